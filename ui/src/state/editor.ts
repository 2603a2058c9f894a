// The open note: loading it, autosaving what is typed, and showing what a
// sync or a merge changed without clobbering text that is not saved yet.
import { batch, createSignal } from 'solid-js';
import { toApiError } from '../api/errors';
import type { Api, Note, NotePatch, Strategy } from '../api/types';
import { Autosaver, type SaveState } from '../lib/autosave';
import { resolveTitle } from '../lib/links';
import type { NotesState } from './notes';
import { loadPreviewIds, saveLastNote, savePreviewIds } from './persist';
import type { UiState } from './ui';

export interface LoadedNote {
  note: Note;
  /** Changes when the editor must load this note's text anew. */
  version: number;
}

export type EditorState = ReturnType<typeof createEditor>;

/** A note that opens faster than this shows no "Opening…" at all. */
const SLOW_OPEN_MS = 150;

/** `leaving` is called when another note (or none) is opened: the conflict view closes. */
export function createEditor(api: Api, ui: UiState, notes: NotesState, leaving: () => void) {
  const [selectedId, setSelectedId] = createSignal<string | null>(null);
  const [current, setCurrent] = createSignal<LoadedNote | null>(null);
  const [loading, setLoading] = createSignal(false);
  const [saveState, setSaveState] = createSignal<SaveState>('saved');
  const [saveError, setSaveError] = createSignal<string | null>(null);
  const [strategy, setStrategy] = createSignal<Strategy | null>(null);
  const [previewIds, setPreviewIds] = createSignal<Set<string>>(loadPreviewIds());

  // The version each open editor started from (stamp and body). A save
  // names it, so a note that a sync changed underneath is merged with the
  // editor's text by the core instead of being overwritten by it.
  const bases = new Map<string, { hlc: string; body: string }>();
  // Notes whose last save was merged with a change from elsewhere: the
  // editor shows the merged text as soon as nothing is typed on top.
  const merged = new Set<string>();
  let version = 0;
  // Bumped by every switch of note: a load that finishes after another
  // switch is dropped.
  let loadSeq = 0;

  /** Put `note` in the editor (it shows `note.body`): its new base. */
  function load(note: Note): void {
    bases.set(note.id, { hlc: note.hlc, body: note.body });
    merged.delete(note.id);
    setCurrent({ note, version: ++version });
  }

  async function saveFromEditor(id: string, patch: NotePatch): Promise<Note> {
    const base = bases.get(id);
    let note: Note;
    try {
      note = await api.updateNote(id, patch, base ? { hlc: base.hlc } : undefined);
    } catch (e) {
      if (!base || toApiError(e).code !== 'stale') throw e;
      note = await api.updateNote(id, patch, base);
    }
    const sent = patch.body ?? base?.body;
    if (sent === undefined || note.body === sent) {
      bases.set(id, { hlc: note.hlc, body: note.body });
    } else {
      // Merged: keep the old base, so a save typed on top of the editor's
      // (unmerged) text merges again instead of dropping the other side.
      merged.add(id);
    }
    return note;
  }

  const autosaver = new Autosaver({
    save: saveFromEditor,
    onSaved: (note) => {
      notes.upsert(note);
      const cur = current();
      if (cur && cur.note.id === note.id) {
        if (merged.has(note.id) && !autosaver.isDirty(note.id)) {
          // Show what was merged in; the editor reloads from `note`.
          merged.delete(note.id);
          load(note);
        } else {
          // Same version: the editor keeps its text (it may be ahead of
          // this save); `note` records what the core now holds.
          setCurrent({ version: cur.version, note });
        }
      }
    },
    onError: (_id, e) => {
      const err = toApiError(e);
      setSaveError(err.message);
      ui.toast(`Not saved: ${err.message} Your text is kept here; it will be saved again.`, 'error', err.code);
    },
    onState: (id, s) => {
      if (id === selectedId()) {
        setSaveState(s);
        if (s !== 'error') setSaveError(null);
      }
    },
  });

  /** Make `id` the open note at once (its text follows); returns the switch's number. */
  function select(id: string | null): number {
    const prev = selectedId();
    if (prev && prev !== id) void autosaver.flush(prev);
    batch(() => {
      setSelectedId(id);
      leaving();
      setSaveState(id ? autosaver.state(id) : 'saved');
      setSaveError(null);
      if (!id) setCurrent(null);
    });
    saveLastNote(id);
    return ++loadSeq;
  }

  async function open(id: string | null): Promise<void> {
    const my = select(id);
    if (!id) return;
    const slow = setTimeout(() => my === loadSeq && setLoading(true), SLOW_OPEN_MS);
    try {
      // Our own unsaved edits of this note first, so we read them back.
      await autosaver.flush(id);
      const [note, s] = await Promise.all([api.getNote(id), api.getConflictStrategy(id).catch(() => null)]);
      if (my !== loadSeq) return;
      batch(() => {
        load(note);
        setStrategy(s);
      });
    } catch (e) {
      if (my !== loadSeq) return;
      ui.toastError(e);
      if (toApiError(e).code === 'note_not_found') {
        setLoading(false);
        notes.remove(id);
        select(null);
      }
    } finally {
      clearTimeout(slow);
      if (my === loadSeq) setLoading(false);
    }
  }

  async function create(title = ''): Promise<Note | null> {
    try {
      const note = await api.createNote({ title, body: '', tags: [], pinned: false });
      if (notes.resultQuery().trim()) notes.setQuery('');
      notes.upsert(note, '');
      batch(() => {
        select(note.id);
        load(note);
        setStrategy(null);
      });
      return note;
    } catch (e) {
      ui.toastError(e);
      return null;
    }
  }

  /**
   * A sync wrote the open note: show what it holds now, unless the user has
   * unsaved edits (their save names the old base, so the core merges them
   * with it and the merged text comes back).
   */
  async function reread(id: string): Promise<void> {
    const cur = current();
    if (!cur || cur.note.id !== id || autosaver.isDirty(id)) return;
    try {
      const note = await api.getNote(id);
      const now = current();
      if (!now || now.note.id !== note.id || autosaver.isDirty(note.id)) return;
      const textChanged = note.body !== now.note.body || note.title !== now.note.title;
      bases.set(note.id, { hlc: note.hlc, body: note.body });
      setCurrent({ note, version: textChanged ? ++version : now.version });
    } catch {
      /* gone: the list drops it; the editor keeps the text on screen */
    }
  }

  async function remove(id: string): Promise<void> {
    try {
      await autosaver.flush(id);
      await api.deleteNote(id);
      notes.remove(id);
      if (selectedId() === id) select(null);
      const history = api.history;
      ui.toast(
        'Moved to the trash.',
        'info',
        undefined,
        history
          ? {
              label: 'Undo',
              run: () =>
                void history.untrashNote(id).then((note) => {
                  notes.upsert(note);
                  void open(id);
                }, ui.toastError),
            }
          : undefined,
      );
    } catch (e) {
      ui.toastError(e);
    }
  }

  async function setPinned(id: string, pinned: boolean): Promise<void> {
    autosaver.edit(id, { pinned });
    const cur = current();
    if (cur && cur.note.id === id) setCurrent({ ...cur, note: { ...cur.note, pinned } });
    await autosaver.flush(id);
  }

  /** The tags of `id`, saved like any edit. */
  async function setTags(id: string, tags: string[]): Promise<void> {
    autosaver.edit(id, { tags });
    const cur = current();
    if (cur && cur.note.id === id) setCurrent({ ...cur, note: { ...cur.note, tags } });
    await autosaver.flush(id);
  }

  /**
   * Open the note a `[[Title]]` names: of several with that title, the one
   * edited most recently (and say so). `missing` when none has it.
   */
  async function openTitle(title: string): Promise<'opened' | 'missing'> {
    // The whole list, not what a search shows.
    const found = resolveTitle(await api.listNotes(), title);
    if (!found) return 'missing';
    if (found.count > 1) ui.toast(`${found.count} notes are titled “${found.note.title}”: opened the one edited most recently.`);
    await open(found.note.id);
    return 'opened';
  }

  async function setStrategyForNote(id: string, s: Strategy | null): Promise<void> {
    try {
      await api.setConflictStrategy(id, s);
      setStrategy(s);
    } catch (e) {
      ui.toastError(e);
    }
  }

  function togglePreview(id: string): void {
    const next = new Set(previewIds());
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setPreviewIds(next);
    savePreviewIds(next);
  }

  /**
   * Show `note` without the usual switch (the conflict view shows it): what
   * is typed in the note being left must be saved first (`flush`).
   */
  function show(note: Note): void {
    ++loadSeq;
    batch(() => {
      setSelectedId(note.id);
      load(note);
    });
  }

  /** A conflict was settled with `note`: show the result, or nothing if it was deleted. */
  function showResolved(note: Note): void {
    batch(() => {
      if (!note.deleted) {
        notes.upsert(note);
        load(note);
        setSelectedId(note.id);
      } else {
        notes.remove(note.id);
        setCurrent(null);
        setSelectedId(null);
      }
    });
  }

  return {
    selectedId,
    current,
    loading,
    saveState,
    saveError,
    strategy,
    open,
    create,
    reread,
    remove,
    setPinned,
    setTags,
    openTitle,
    setStrategyForNote,
    editTitle(id: string, title: string): void {
      autosaver.edit(id, { title });
      // The list shows the new title at once.
      notes.retitle(id, title);
    },
    editBody(id: string, body: () => string): void {
      autosaver.edit(id, { body });
    },
    /** Save now what is typed (one note, or all). */
    flush: (id?: string): Promise<void> => autosaver.flush(id),
    /** A title typed and not saved yet: a list patch keeps it. */
    pendingTitle: (id: string): string | undefined => autosaver.pendingPatch(id)?.title,
    isPreview: (id: string): boolean => previewIds().has(id),
    togglePreview,
    show,
    showResolved,
    dispose: () => autosaver.dispose(),
  };
}
