// Links and task lists in the preview, as markdown-it plugins and the
// decisions the preview makes on a click. `[[Title]]` (Obsidian's form,
// `[[Title|label]]` and `[[Title#heading]]` too) becomes a link to the note
// of that title; `- [ ]` / `- [x]` items get a checkbox that knows its
// source line, so a click edits exactly that line.
import type MarkdownIt from 'markdown-it';
import type { NoteSummary } from '../api/types';

/** What a click on a preview link does. */
export type LinkTarget =
  | { kind: 'note'; title: string }
  | { kind: 'external'; url: string }
  | { kind: 'anchor' }
  | { kind: 'inert' };

/** Web and mail links open outside the app (after asking); nothing else does. */
export function classifyLink(a: Element): LinkTarget {
  const wiki = a.getAttribute('data-wikilink');
  if (wiki !== null) return { kind: 'note', title: wiki };
  const href = (a.getAttribute('href') ?? '').trim();
  if (href.startsWith('#')) return { kind: 'anchor' };
  if (/^(https?:\/\/[^/\s]|mailto:\S)/i.test(href)) return { kind: 'external', url: href };
  return { kind: 'inert' };
}

/** `[[Title]]`, `[[Title|label]]`, `[[Title#heading]]`: the title and the text shown. */
export function parseWikiLink(inner: string): { title: string; label: string } | null {
  if (inner.includes('\n') || inner.includes('[') || inner.includes(']')) return null;
  const bar = inner.indexOf('|');
  const target = (bar >= 0 ? inner.slice(0, bar) : inner).trim();
  const title = target.split('#')[0]!.trim();
  if (!title) return null;
  const label = bar >= 0 ? inner.slice(bar + 1).trim() || target : target;
  return { title, label };
}

export function wikiLinks(md: MarkdownIt): void {
  md.inline.ruler.before('link', 'wikilink', (state, silent) => {
    const src = state.src;
    const start = state.pos;
    if (src.charCodeAt(start) !== 0x5b || src.charCodeAt(start + 1) !== 0x5b) return false;
    const end = src.indexOf(']]', start + 2);
    if (end < 0 || end > state.posMax) return false;
    const link = parseWikiLink(src.slice(start + 2, end));
    if (!link) return false;
    if (!silent) {
      const open = state.push('link_open', 'a', 1);
      open.attrSet('href', '#');
      open.attrSet('class', 'wikilink');
      open.attrSet('data-wikilink', link.title);
      open.attrSet('title', `Open “${link.title}”`);
      const text = state.push('text', '', 0);
      text.content = link.label;
      state.push('link_close', 'a', -1);
    }
    state.pos = end + 2;
    return true;
  });
}

const TASK = /^\[([ xX])\][ \t]/;

export function taskLists(md: MarkdownIt): void {
  md.core.ruler.after('inline', 'task-lists', (state) => {
    const tokens = state.tokens;
    for (let i = 2; i < tokens.length; i++) {
      const inline = tokens[i]!;
      const item = tokens[i - 2]!;
      if (inline.type !== 'inline' || tokens[i - 1]!.type !== 'paragraph_open' || item.type !== 'list_item_open') continue;
      const m = TASK.exec(inline.content);
      const first = inline.children?.[0];
      if (!m || !first || first.type !== 'text' || !item.map) continue;
      const done = m[1] !== ' ';
      first.content = first.content.slice(m[0].length);
      const box = new state.Token('html_inline', '', 0);
      box.content = `<span class="task-box" role="checkbox" tabindex="0" aria-checked="${done}" data-task-line="${item.map[0]}"></span>`;
      inline.children!.unshift(box);
      item.attrJoin('class', done ? 'task-item done' : 'task-item');
    }
  });
}

/**
 * The one edit that ticks or unticks the task on `line` (0-based) of
 * `text`, or null if that line holds no task (the text changed since).
 */
export function toggleTask(text: string, line: number): { from: number; to: number; insert: string } | null {
  let start = 0;
  for (let l = 0; l < line; l++) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) return null;
    start = nl + 1;
  }
  const end = text.indexOf('\n', start);
  const lineText = text.slice(start, end < 0 ? text.length : end);
  const m = /^(\s*(?:>\s*)*(?:[-*+]|\d+[.)])\s+\[)([ xX])\]/.exec(lineText);
  if (!m) return null;
  const at = start + m[1]!.length;
  return { from: at, to: at + 1, insert: m[2] === ' ' ? 'x' : ' ' };
}

/**
 * The note a `[[Title]]` opens: the same title (ignoring case and outer
 * spaces); of several, the most recently edited. `count` says how many had
 * that title, so the app can say it chose.
 */
export function resolveTitle(notes: readonly NoteSummary[], title: string): { note: NoteSummary; count: number } | null {
  const want = title.trim().toLocaleLowerCase();
  const same = notes.filter((n) => n.title.trim().toLocaleLowerCase() === want);
  if (same.length === 0) return null;
  const note = same.reduce((a, b) => (b.updated_at > a.updated_at ? b : a));
  return { note, count: same.length };
}
