// The app's state, one module per domain, composed here. Components reach
// it through `useApp()` (context.tsx); the decisions live in the plain
// modules under lib/ (tested without a DOM), and all IPC goes through the
// `Api` handed in.
import { createSignal } from 'solid-js';
import type { Api } from '../api/types';
import { createAccount } from './account';
import { createConflicts } from './conflicts';
import { createEditor } from './editor';
import { createMonitor } from './monitor';
import { createNotes } from './notes';
import { loadLastNote } from './persist';
import { createSync } from './sync';
import { createUi } from './ui';

export type { AccountState } from './account';
export type { ConflictScreen, ConflictsState } from './conflicts';
export type { EditorState, LoadedNote } from './editor';
export type { MonitorState } from './monitor';
export type { NotesState } from './notes';
export type { SyncState } from './sync';
export type { UiState } from './ui';

export type AppState = ReturnType<typeof createAppState>;

/** Call inside a reactive owner (a component, or `createRoot` in tests). */
export function createAppState(api: Api) {
  // The reads from the core wait for `init`, so the list goes out first.
  const [started, setStarted] = createSignal(false);
  const ui = createUi();
  const notes = createNotes(api, ui);
  // The conflict view closes when another note opens (`conflicts` is made just below).
  const editor = createEditor(api, ui, notes, () => conflicts.close());
  const conflicts = createConflicts(api, ui, editor, started);
  const account = createAccount(
    api,
    ui,
    {
      flush: () => editor.flush(),
      signedIn: () => {
        // Another account's notes may be about to replace these.
        void notes.reload();
        void sync.syncNow();
      },
    },
    started,
  );
  const sync = createSync(api, { ui, notes, editor, conflicts, account });
  const monitor = createMonitor(api, ui, sync.status);

  const disposers: (() => void)[] = [];
  let disposed = false;
  let starting: Promise<void> | null = null;
  // Start-up awaits the core; the app may be gone by the time it answers.
  const keep = (d: () => void) => (disposed ? d() : void disposers.push(d));

  async function start(): Promise<void> {
    const listed = notes.reload();
    setStarted(true);
    keep(await sync.start());
    await listed;
    if (disposed) return;
    // Reopen the note that was open last time, if it is still here.
    const last = loadLastNote();
    if (last && !editor.selectedId() && notes.has(last)) void editor.open(last);
    ui.startClock();
    const onHide = () => void editor.flush();
    globalThis.addEventListener?.('pagehide', onHide);
    keep(() => globalThis.removeEventListener?.('pagehide', onHide));
    const unClose = api.onCloseRequested ? await api.onCloseRequested(() => editor.flush()).catch(() => null) : null;
    if (unClose) keep(unClose);
  }

  return {
    api,
    ui,
    notes,
    editor,
    conflicts,
    sync,
    monitor,
    account,
    /** Load everything and start listening; later calls share the first one's work. */
    init: (): Promise<void> => (starting ??= start()),
    dispose(): void {
      disposed = true;
      for (const d of disposers.splice(0)) d();
      ui.dispose();
      editor.dispose();
      notes.dispose();
    },
  };
}
