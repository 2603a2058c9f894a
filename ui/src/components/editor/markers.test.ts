import { EditorState } from '@codemirror/state';
import { describe, expect, it } from 'vitest';
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
