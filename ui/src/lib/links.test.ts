// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import type { NoteSummary } from '../api/types';
import { classifyLink, parseWikiLink, resolveTitle, toggleTask } from './links';
import { renderMarkdown } from './markdown';

function dom(html: string): HTMLElement {
  const d = document.createElement('div');
  d.innerHTML = html;
  return d;
}

describe('[[Title]] links', () => {
  it('render as links to the note, with Obsidian aliases and headings', () => {
    const d = dom(renderMarkdown('See [[Garden plan]], [[Trip#Day 2|the second day]] and [[ ]].'));
    const links = [...d.querySelectorAll('a')];
    expect(links.map((a) => [a.getAttribute('data-wikilink'), a.textContent])).toEqual([
      ['Garden plan', 'Garden plan'],
      ['Trip', 'the second day'],
    ]);
    expect(d.textContent).toContain('[[ ]]');
    expect(classifyLink(links[0]!)).toEqual({ kind: 'note', title: 'Garden plan' });
  });

  it('are not links inside code', () => {
    expect(dom(renderMarkdown('`[[Not a link]]`')).querySelector('a')).toBeNull();
  });

  it('parse what people write', () => {
    expect(parseWikiLink(' Plan ')).toEqual({ title: 'Plan', label: 'Plan' });
    expect(parseWikiLink('#only a heading')).toBeNull();
    expect(parseWikiLink('a\nb')).toBeNull();
  });
});

describe('classifyLink', () => {
  const a = (href: string) => dom(renderMarkdown(`<a href="${href}">x</a>`)).querySelector('a')!;
  it('sends web and mail links out, keeps anchors, and leaves the rest inert', () => {
    expect(classifyLink(a('https://example.org/x'))).toEqual({ kind: 'external', url: 'https://example.org/x' });
    expect(classifyLink(a('mailto:ada@example.org'))).toEqual({ kind: 'external', url: 'mailto:ada@example.org' });
    expect(classifyLink(a('#intro'))).toEqual({ kind: 'anchor' });
    expect(classifyLink(a('notes/other.md'))).toEqual({ kind: 'inert' });
    expect(classifyLink(a('file:///etc/passwd'))).toEqual({ kind: 'inert' });
  });
});

describe('task lists', () => {
  const src = 'Shopping:\n\n- [ ] milk\n- [x] bread\n  1. [ ] nested\n- plain item\n\n> - [X] quoted\n';
  it('render a checkbox that knows its source line', () => {
    const boxes = [...dom(renderMarkdown(src)).querySelectorAll('.task-box')];
    expect(boxes.map((b) => [b.getAttribute('data-task-line'), b.getAttribute('aria-checked'), b.getAttribute('role')])).toEqual([
      ['2', 'false', 'checkbox'],
      ['3', 'true', 'checkbox'],
      ['4', 'false', 'checkbox'],
      ['7', 'true', 'checkbox'],
    ]);
    expect(dom(renderMarkdown(src)).querySelector('li.task-item')!.textContent).toBe('milk');
  });

  it('toggle with one edit of that line only', () => {
    const apply = (t: string, e: { from: number; to: number; insert: string }) => t.slice(0, e.from) + e.insert + t.slice(e.to);
    let t = src;
    for (const line of [2, 3, 4, 7]) t = apply(t, toggleTask(t, line)!);
    expect(t).toBe('Shopping:\n\n- [x] milk\n- [ ] bread\n  1. [x] nested\n- plain item\n\n> - [ ] quoted\n');
    expect(toggleTask(src, 0)).toBeNull();
    expect(toggleTask(src, 5)).toBeNull();
    expect(toggleTask(src, 99)).toBeNull();
  });
});

describe('resolveTitle', () => {
  const n = (id: string, title: string, updated_at: number): NoteSummary => ({ id, title, updated_at, pinned: false, sync: 'synced' });
  it('finds the title ignoring case, the newest of several, and says how many', () => {
    const notes = [n('a', 'Plan', 1), n('b', 'plan ', 5), n('c', 'Planet', 9)];
    expect(resolveTitle(notes, 'PLAN')).toEqual({ note: notes[1], count: 2 });
    expect(resolveTitle(notes, 'Nope')).toBeNull();
  });
});
