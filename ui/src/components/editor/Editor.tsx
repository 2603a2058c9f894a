import { openSearchPanel } from '@codemirror/search';
import { createEffect, on, onCleanup, onMount } from 'solid-js';
import { EditorView, newState } from './codemirror';

export interface EditorHandle {
  focus(): void;
  openSearch(): void;
  text(): string;
  /** One edit of the text (saved like typing). */
  replace(from: number, to: number, insert: string): void;
}

export interface EditorProps {
  /** A new key loads `doc` afresh (another note, or this one changed elsewhere). */
  docKey: string;
  doc: string;
  label: string;
  placeholder?: string;
  onChange?: (read: () => string) => void;
  onBlur?: () => void;
  ref?: (h: EditorHandle) => void;
  /** Colour conflict-marker blocks (read when a doc loads). */
  markers?: boolean;
  /** Files pasted or dropped into the text, and the offset they landed at. */
  onFiles?: (files: File[], pos: number) => void;
  class?: string;
  testid?: string;
}

export function Editor(props: EditorProps) {
  let host!: HTMLDivElement;
  let view: EditorView | undefined;
  let lastKey = '';

  const make = () =>
    newState({
      doc: props.doc,
      label: props.label,
      ...(props.placeholder !== undefined ? { placeholder: props.placeholder } : {}),
      markers: !!props.markers,
      onChange: (read) => props.onChange?.(read),
      onBlur: () => props.onBlur?.(),
      onFiles: (files, pos) => props.onFiles?.(files, pos),
    });

  onMount(() => {
    view = new EditorView({ state: make(), parent: host });
    lastKey = props.docKey;
    props.ref?.({
      focus: () => view?.focus(),
      openSearch: () => view && openSearchPanel(view),
      text: () => view?.state.doc.toString() ?? '',
      replace: (from, to, insert) => view?.dispatch({ changes: { from, to, insert }, userEvent: 'input' }),
    });
  });

  createEffect(
    on(
      () => props.docKey,
      (key) => {
        if (!view || key === lastKey) return;
        const sameNote = key.split(':')[0] === lastKey.split(':')[0];
        const sel = view.state.selection.main;
        lastKey = key;
        view.setState(make());
        if (sameNote) {
          // Reloaded from a sync: keep the caret near where it was.
          const len = view.state.doc.length;
          view.dispatch({ selection: { anchor: Math.min(sel.anchor, len), head: Math.min(sel.head, len) } });
        }
      },
      { defer: true },
    ),
  );

  onCleanup(() => view?.destroy());

  return <div ref={host} class={`cm-host ${props.class ?? ''}`} data-testid={props.testid ?? 'editor'} />;
}
