// @vitest-environment jsdom
import { EditorState } from '@codemirror/state';
import { describe, expect, it } from 'vitest';
import { ensureSyntaxTree, language } from '@codemirror/language';
import { EditorView, longestParagraph, MAX_HIGHLIGHTED_PARAGRAPH, newState } from './codemirror';
import { markerDecorations } from './markers';

function classes(doc: string): string[] {
  const state = EditorState.create({ doc });
  const out: string[] = new Array(state.doc.lines).fill('');
  const it = markerDecorations(state).iter();
  while (it.value) {
    out[state.doc.lineAt(it.from).number - 1] = String(it.value.spec.class).replace('cm-conflict-', '');
    it.next();
  }
  return out;
}

describe('conflict marker colouring', () => {
  it('marks ours, theirs and the markers', () => {
    expect(classes('a\n<<<<<<< ours\nmine\n=======\ntheirs\n>>>>>>> theirs\nz')).toEqual([
      '',
      'marker',
      'ours',
      'marker',
      'theirs',
      'marker',
      '',
    ]);
  });

  it('leaves a Markdown heading underline alone', () => {
    expect(classes('Title\n=======\ntext')).toEqual(['', '', '']);
  });
});

describe('Markdown parsing around conflict markers', () => {
  const doc = '<<<<<<< ours\nmine\n=======\ntheirs\n>>>>>>> theirs\n';
  function nodeNames(markers: boolean): string[] {
    const state = newState({ doc, label: 'note', markers });
    const tree = ensureSyntaxTree(state, state.doc.length, 5000);
    const names: string[] = [];
    tree?.iterate({ enter: (n) => void names.push(n.name) });
    return names;
  }

  it('does not read the separator as a heading underline in a conflicted note', () => {
    expect(nodeNames(true).some((n) => n.startsWith('SetextHeading'))).toBe(false);
  });

  it('keeps setext headings in ordinary notes', () => {
    expect(nodeNames(false)).toContain('SetextHeading1');
  });
});

describe('Markdown highlighting and very long paragraphs', () => {
  it('measures the longest run of text between blank lines', () => {
    expect(longestParagraph('')).toBe(0);
    expect(longestParagraph('abc')).toBe(3);
    expect(longestParagraph('ab\n\nabcdef\n  \nabc')).toBe(6);
    expect(longestParagraph('one\ntwo\n\nx')).toBe(7);
  });

  it('turns highlighting off only for a note with a paragraph too long to re-parse per key', () => {
    const line = 'log line without a blank line between them\n';
    const pasted = line.repeat(Math.ceil((MAX_HIGHLIGHTED_PARAGRAPH + 1) / line.length));
    expect(newState({ doc: pasted, label: 'note' }).facet(language)).toBeNull();
    const structured = `${'A paragraph of ordinary size.\n\n'.repeat(5000)}`;
    expect(structured.length).toBeGreaterThan(MAX_HIGHLIGHTED_PARAGRAPH);
    expect(newState({ doc: structured, label: 'note' }).facet(language)?.name).toBe('markdown');
  });

  it('turns it off after a huge paste, and on again when the paste is undone', async () => {
    // jsdom lays nothing out; CodeMirror's measuring asks ranges for boxes.
    Range.prototype.getClientRects ??= () => ({ length: 0, item: () => null, [Symbol.iterator]: [][Symbol.iterator] }) as DOMRectList;
    Range.prototype.getBoundingClientRect ??= () => new DOMRect();
    const view = new EditorView({ state: newState({ doc: '# Notes\n\nshort', label: 'note' }), parent: document.body });
    const lang = () => view.state.facet(language)?.name ?? null;
    expect(lang()).toBe('markdown');
    const log = 'x'.repeat(MAX_HIGHLIGHTED_PARAGRAPH + 10);
    view.dispatch({ changes: { from: view.state.doc.length, insert: log } });
    await new Promise((r) => setTimeout(r, 10));
    expect(lang()).toBeNull();
    view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: `# Notes\n\n${'y'.repeat(5000)}` } });
    await new Promise((r) => setTimeout(r, 10));
    expect(lang()).toBe('markdown');
    view.destroy();
  });
});
