// CodeMirror 6 set up for Markdown notes: history, search, the default
// keymaps, soft wrapping, and a theme drawn from the app's CSS variables so
// light and dark follow the app.
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { markdown, markdownLanguage } from '@codemirror/lang-markdown';
import { HighlightStyle, syntaxHighlighting, indentOnInput, bracketMatching } from '@codemirror/language';
import { highlightSelectionMatches, search, searchKeymap } from '@codemirror/search';
import { Compartment, EditorState, type Extension } from '@codemirror/state';
import {
  drawSelection,
  dropCursor,
  EditorView,
  highlightActiveLine,
  keymap,
  placeholder as placeholderExt,
  rectangularSelection,
} from '@codemirror/view';
import { tags as t } from '@lezer/highlight';
import { readStyleNonce } from '../../lib/csp';
import { conflictMarkers } from './markers';

const theme = EditorView.theme({
  '&': {
    color: 'var(--text)',
    backgroundColor: 'transparent',
    fontSize: 'var(--editor-size)',
    height: '100%',
  },
  '&.cm-focused': { outline: 'none' },
  // The page-wide focus ring would frame the whole text; the caret shows focus.
  '.cm-content:focus-visible': { boxShadow: 'none' },
  '.cm-scroller': {
    fontFamily: 'var(--font-text)',
    lineHeight: '1.7',
    overflow: 'auto',
  },
  '.cm-content': {
    maxWidth: 'var(--measure)',
    margin: '0 auto',
    padding: '8px 32px 40vh',
    caretColor: 'var(--accent)',
  },
  '.cm-line': { padding: '0' },
  '.cm-cursor, .cm-dropCursor': { borderLeftColor: 'var(--accent)', borderLeftWidth: '2px' },
  '&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground, ::selection': {
    backgroundColor: 'var(--selection) !important',
  },
  '.cm-activeLine': { backgroundColor: 'transparent' },
  '.cm-placeholder': { color: 'var(--text-faint)' },
  '.cm-searchMatch': { backgroundColor: 'var(--match)', outline: '1px solid var(--match-border)' },
  '.cm-searchMatch.cm-searchMatch-selected': { backgroundColor: 'var(--match-strong)' },
  '.cm-selectionMatch': { backgroundColor: 'var(--match)' },
  '.cm-panels': { backgroundColor: 'var(--surface-2)', color: 'var(--text)', fontFamily: 'var(--font-ui)' },
  '.cm-panels.cm-panels-top': { borderBottom: '1px solid var(--border)' },
  '.cm-panels.cm-panels-bottom': { borderTop: '1px solid var(--border)' },
  '.cm-panel.cm-search': { padding: '6px 10px', fontSize: '13px' },
  '.cm-panel.cm-search input, .cm-panel.cm-search button': { fontSize: '13px' },
  '.cm-textfield': {
    backgroundColor: 'var(--surface)',
    color: 'var(--text)',
    border: '1px solid var(--border-strong)',
    borderRadius: '6px',
    padding: '3px 6px',
  },
  '.cm-button': {
    backgroundImage: 'none',
    backgroundColor: 'var(--surface)',
    color: 'var(--text)',
    border: '1px solid var(--border-strong)',
    borderRadius: '6px',
    padding: '3px 8px',
  },
  '.cm-panel button[name=close]': { color: 'var(--text-muted)' },
});

const highlight = HighlightStyle.define([
  { tag: t.heading1, fontSize: '1.6em', fontWeight: '700', lineHeight: '1.4' },
  { tag: t.heading2, fontSize: '1.35em', fontWeight: '700' },
  { tag: t.heading3, fontSize: '1.15em', fontWeight: '650' },
  { tag: [t.heading4, t.heading5, t.heading6], fontWeight: '650' },
  { tag: t.strong, fontWeight: '700' },
  { tag: t.emphasis, fontStyle: 'italic' },
  { tag: t.strikethrough, textDecoration: 'line-through' },
  { tag: t.link, color: 'var(--accent)' },
  { tag: t.url, color: 'var(--text-muted)' },
  { tag: t.monospace, fontFamily: 'var(--font-mono)', fontSize: '0.92em', color: 'var(--code)' },
  { tag: t.quote, color: 'var(--text-muted)', fontStyle: 'italic' },
  { tag: [t.processingInstruction, t.meta, t.contentSeparator], color: 'var(--text-faint)' },
]);

export interface EditorOptions {
  doc: string;
  placeholder?: string;
  label: string;
  /** Called on every change with a reader of the new text (cheap: no copy). */
  onChange?: (read: () => string) => void;
  onBlur?: () => void;
  /** Colour conflict-marker blocks. */
  markers?: boolean;
  /** Files pasted or dropped into the text, and where (a document offset). */
  onFiles?: (files: File[], pos: number) => void;
}

/** The files of a paste or drop, if it carries any. */
export function filesOf(data: DataTransfer | null | undefined): File[] {
  return data?.files ? Array.from(data.files) : [];
}

let nonce: string | null = null;
function styleNonce(): Extension {
  nonce ??= readStyleNonce(globalThis.document);
  return nonce ? EditorView.cspNonce.of(nonce) : [];
}

/**
 * Above this many characters in one paragraph (text between blank lines),
 * Markdown highlighting is off for the note: `@lezer/markdown` reuses its
 * work only at block boundaries, so every key re-parses the whole paragraph
 * (measured: 0.8 s a key in a 1 MB pasted log). The text itself is unchanged.
 */
export const MAX_HIGHLIGHTED_PARAGRAPH = 64 * 1024;

/** Length of the longest run of text without a blank line. */
export function longestParagraph(text: string): number {
  const blank = /\n[ \t]*\n/g;
  let longest = 0;
  let start = 0;
  for (let m = blank.exec(text); m !== null; m = blank.exec(text)) {
    longest = Math.max(longest, m.index - start);
    start = blank.lastIndex;
  }
  return Math.max(longest, text.length - start);
}

function markdownFor(text: string, markers: boolean): Extension {
  if (longestParagraph(text) > MAX_HIGHLIGHTED_PARAGRAPH) return [];
  // In a note with conflict markers, `=======` under a line of ours is a
  // separator, not a setext heading underline.
  return markdown({ base: markdownLanguage, extensions: markers ? { remove: ['SetextHeading'] } : [] });
}

/** Pastes at least this large re-check whether highlighting should stay on. */
const BIG_INSERT = 4096;

export function editorExtensions(o: EditorOptions): Extension[] {
  const language = new Compartment();
  let highlighted = longestParagraph(o.doc) <= MAX_HIGHLIGHTED_PARAGRAPH;
  return [
    styleNonce(),
    history(),
    drawSelection(),
    dropCursor(),
    rectangularSelection(),
    indentOnInput(),
    bracketMatching(),
    highlightActiveLine(),
    highlightSelectionMatches(),
    search({ top: true }),
    EditorView.lineWrapping,
    language.of(markdownFor(o.doc, !!o.markers)),
    syntaxHighlighting(highlight),
    theme,
    placeholderExt(o.placeholder ?? ''),
    o.markers ? conflictMarkers() : [],
    keymap.of([...searchKeymap, ...historyKeymap, ...defaultKeymap]),
    EditorView.contentAttributes.of({ 'aria-label': o.label, 'data-testid': 'editor-content', spellcheck: 'true' }),
    EditorView.updateListener.of((u) => {
      if (u.docChanged && o.onChange) {
        const doc = u.state.doc;
        o.onChange(() => doc.toString());
      }
      let big = false;
      u.changes.iterChanges((_fa, _ta, _fb, _tb, inserted) => {
        if (inserted.length >= BIG_INSERT) big = true;
      });
      if (!big) return;
      const text = u.state.doc.toString();
      if (highlighted === longestParagraph(text) <= MAX_HIGHLIGHTED_PARAGRAPH) return;
      highlighted = !highlighted;
      // An update listener may not dispatch; the next task may.
      setTimeout(() => u.view.dispatch({ effects: language.reconfigure(markdownFor(text, !!o.markers)) }), 0);
    }),
    EditorView.domEventHandlers({
      blur: () => {
        o.onBlur?.();
        return false;
      },
      paste: (e, view) => {
        const files = filesOf(e.clipboardData);
        if (!o.onFiles || files.length === 0) return false;
        e.preventDefault();
        o.onFiles(files, view.state.selection.main.head);
        return true;
      },
      drop: (e, view) => {
        const files = filesOf(e.dataTransfer);
        if (!o.onFiles || files.length === 0) return false;
        e.preventDefault();
        o.onFiles(files, view.posAtCoords({ x: e.clientX, y: e.clientY }) ?? view.state.selection.main.head);
        return true;
      },
    }),
  ];
}

export function newState(o: EditorOptions): EditorState {
  return EditorState.create({ doc: o.doc, extensions: editorExtensions(o) });
}

export { EditorView, EditorState };
