// Colours the blocks between conflict markers (`<<<<<<< ours`, `=======`,
// `>>>>>>> theirs`) so the two versions stand apart. Used only for notes
// with an open conflict and in the conflict view's editor.
import { RangeSetBuilder, StateField, type EditorState, type Extension } from '@codemirror/state';
import { Decoration, type DecorationSet, EditorView } from '@codemirror/view';

const marker = Decoration.line({ class: 'cm-conflict-marker' });
const ours = Decoration.line({ class: 'cm-conflict-ours' });
const theirs = Decoration.line({ class: 'cm-conflict-theirs' });

export function markerDecorations(state: EditorState): DecorationSet {
  const b = new RangeSetBuilder<Decoration>();
  let mode: 'none' | 'ours' | 'theirs' = 'none';
  for (let i = 1; i <= state.doc.lines; i++) {
    const line = state.doc.line(i);
    const t = line.text;
    if (t.startsWith('<<<<<<<')) {
      b.add(line.from, line.from, marker);
      mode = 'ours';
    } else if (t.startsWith('=======') && mode === 'ours') {
      b.add(line.from, line.from, marker);
      mode = 'theirs';
    } else if (t.startsWith('>>>>>>>') && mode === 'theirs') {
      b.add(line.from, line.from, marker);
      mode = 'none';
    } else if (mode === 'ours') b.add(line.from, line.from, ours);
    else if (mode === 'theirs') b.add(line.from, line.from, theirs);
  }
  return b.finish();
}

const field = StateField.define<DecorationSet>({
  create: markerDecorations,
  update: (deco, tr) => (tr.docChanged ? markerDecorations(tr.state) : deco),
  provide: (f) => EditorView.decorations.from(f),
});

const theme = EditorView.baseTheme({
  '.cm-conflict-marker': { backgroundColor: 'var(--surface-2)', color: 'var(--text-muted)' },
  '.cm-conflict-ours': { backgroundColor: 'color-mix(in srgb, var(--accent) 10%, transparent)' },
  '.cm-conflict-theirs': { backgroundColor: 'color-mix(in srgb, var(--conflict) 12%, transparent)' },
});

export function conflictMarkers(): Extension {
  return [field, theme];
}
