// Conflicts: the open ones (read again when the engine's count moves), the
// conflict view of one, and settling it there.
import { type Accessor, batch, createResource, createSignal } from 'solid-js';
import type { Api, ConflictView, Note, Resolution } from '../api/types';
import type { EditorState } from './editor';
import type { UiState } from './ui';

export interface ConflictScreen {
  conflict: ConflictView;
  /** The note as it is now: its body is the merged text with markers. */
  note: Note;
}

export type ConflictsState = ReturnType<typeof createConflicts>;

/** `started` holds the first read back until the app starts (the list goes first). */
export function createConflicts(api: Api, ui: UiState, editor: EditorState, started: Accessor<boolean>) {
  const [screen, setScreen] = createSignal<ConflictScreen | null>(null);
  const [list, { refetch, mutate }] = createResource(
    started,
    async (): Promise<ConflictView[]> => {
      try {
        return await api.listConflicts();
      } catch (e) {
        ui.toastError(e);
        // Keep what was shown: a failed read says nothing about them.
        return list.latest ?? [];
      }
    },
    { initialValue: [] },
  );

  async function refresh(): Promise<void> {
    await refetch();
  }

  async function open(c: ConflictView): Promise<void> {
    try {
      const prev = editor.selectedId();
      if (prev) await editor.flush(prev);
      const note = await api.getNote(c.note_id);
      batch(() => {
        editor.show(note);
        setScreen({ conflict: c, note });
      });
    } catch (e) {
      ui.toastError(e);
    }
  }

  async function openForNote(noteId: string): Promise<void> {
    if (!list.latest.some((c) => c.note_id === noteId)) await refresh();
    const c = list.latest.find((x) => x.note_id === noteId && x.resolved_at === null);
    if (c) await open(c);
    else ui.toast('No open conflict for this note.');
  }

  async function resolve(id: number, resolution: Resolution): Promise<boolean> {
    try {
      const note = await api.resolveConflict(id, resolution);
      batch(() => {
        setScreen(null);
        mutate((cs) => cs.filter((c) => c.id !== id));
        editor.showResolved(note);
      });
      ui.toast('Conflict resolved. The result syncs like any edit.');
      void refresh();
      return true;
    } catch (e) {
      ui.toastError(e);
      return false;
    }
  }

  return {
    /** The open conflicts (what was last read; never suspends). */
    list: (): ConflictView[] => list.latest,
    /** The conflict view, when it shows. */
    screen,
    close: () => setScreen(null),
    refresh,
    open,
    openForNote,
    resolve,
  };
}
