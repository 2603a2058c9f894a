// Sync: the engine's status (the status bar), the testers' network and
// device-situation switches, and the notes a sync wrote, re-read one by one from the `notes-changed`
// event instead of listing every note again after each pass.
import { createSignal } from 'solid-js';
import type { Api, DeviceOverrides, NetMode, SyncStatus } from '../api/types';
import { SavedValue } from '../lib/saved';
import { conflictsChanged, isNewer, serverResetNotice } from '../lib/status';
import type { AccountState } from './account';
import type { ConflictsState } from './conflicts';
import type { EditorState } from './editor';
import type { NotesState } from './notes';
import type { UiState } from './ui';

export type SyncState = ReturnType<typeof createSync>;

/**
 * Past this many notes in one event (a first sync, a restore) one full
 * list read is cheaper than asking for each of them.
 */
export const RELIST_OVER = 200;

export interface SyncDeps {
  ui: UiState;
  notes: NotesState;
  editor: EditorState;
  conflicts: ConflictsState;
  account: AccountState;
}

export function createSync(api: Api, { ui, notes, editor, conflicts, account }: SyncDeps) {
  const [status, setStatus] = createSignal<SyncStatus | null>(null);

  function onStatus(s: SyncStatus): void {
    const prev = status();
    if (!isNewer(prev, s)) return;
    setStatus(s);
    const reset = serverResetNotice(prev, s);
    if (reset) {
      ui.toast(reset);
      // The device sent its notes again: every line's badge may have moved.
      void notes.reload();
    }
    if (conflictsChanged(prev, s)) void conflicts.refresh();
  }

  // Ids named by events not handled yet: events that arrive while one is
  // being handled are taken together, and in order, so an older answer
  // never lands after a newer one.
  const queued = new Set<string>();
  // The shell fell behind and could not say which notes changed.
  let queuedAll = false;
  let draining: Promise<void> | null = null;

  function onNotesChanged(ids: readonly string[], all: boolean): void {
    for (const id of ids) queued.add(id);
    queuedAll ||= all;
    if (draining || (queued.size === 0 && !queuedAll)) return;
    draining = drain();
  }

  async function drain(): Promise<void> {
    try {
      while (queued.size > 0 || queuedAll) {
        const ids = [...queued];
        const all = queuedAll;
        queued.clear();
        queuedAll = false;
        await applyChanged(ids, all);
      }
    } finally {
      // In the same turn as the last check: an event from now on starts a new drain.
      draining = null;
    }
  }

  async function applyChanged(ids: string[], all: boolean): Promise<void> {
    const open = editor.current()?.note.id;
    const reread = open !== undefined && (all || ids.includes(open)) ? editor.reread(open) : null;
    if (all || ids.length > RELIST_OVER) {
      await notes.reload();
    } else {
      try {
        const found = await api.noteSummaries(ids);
        // A title typed and not saved yet stays on its line.
        const lines = found.map((n) => {
          const title = editor.pendingTitle(n.id);
          return title === undefined ? n : { ...n, title };
        });
        await notes.patch(ids, lines);
      } catch {
        // The lines could not be read one by one: read them all.
        await notes.reload();
      }
    }
    await reread;
  }

  async function syncNow(): Promise<void> {
    await editor.flush();
    // Local only, or working offline: saving is all there is to do (the
    // status bar already says so).
    const info = account.info();
    if (info && !info.logged_in) return;
    if (status()?.net_mode.mode === 'offline') return;
    try {
      await api.syncNow();
    } catch (e) {
      ui.toastError(e);
    }
  }

  async function approveMassDelete(): Promise<void> {
    try {
      await api.approveMassDelete();
      ui.toast('Approved: the sync goes on.');
    } catch (e) {
      ui.toastError(e);
    }
  }

  async function setNetwork(mode: NetMode): Promise<boolean> {
    try {
      await api.setNetwork(mode);
      const s = status();
      if (s) setStatus({ ...s, net_mode: mode });
      return true;
    } catch (e) {
      ui.toastError(e);
      return false;
    }
  }

  // The testers' device switches (metered network, power) over the OS's
  // report. Null until read, and read again whenever the panel shows:
  // `outpost net metered|power|app` writes the same file.
  const [situation, setSituation] = createSignal<DeviceOverrides | null>(null);
  const situationSaves = new SavedValue<DeviceOverrides>({
    save: (o) => api.setDeviceSituation(o),
    show: (o) => setSituation(o),
    failed: (e) => ui.toastError(e),
  });
  // A read that answers after a change was made here is stale: dropped.
  let situationReads = 0;

  async function readSituation(): Promise<void> {
    const my = ++situationReads;
    try {
      const o = await api.getDeviceSituation();
      if (my !== situationReads) return;
      situationSaves.known(o);
      setSituation(o);
    } catch (e) {
      ui.toastError(e);
    }
  }

  /**
   * Write the device file with `change` applied to what is shown (the
   * fields it does not touch are kept). False if it is not known yet or the
   * write was refused.
   */
  async function changeSituation(change: (o: DeviceOverrides) => DeviceOverrides): Promise<boolean> {
    const cur = situation();
    if (!cur) return false;
    situationReads++;
    return situationSaves.set(change(cur));
  }

  /** Listen to the engine, then ask where it stands; returns how to stop listening. */
  async function start(): Promise<() => void> {
    const unheard = (e: unknown) => {
      ui.toastError(e);
      return () => undefined;
    };
    const [offStatus, offChanges] = await Promise.all([
      api.onSyncStatus(onStatus).catch(unheard),
      api.onNotesChanged(onNotesChanged).catch(unheard),
    ]);
    try {
      onStatus(await api.syncStatus());
    } catch (e) {
      ui.toastError(e);
    }
    return () => {
      offStatus();
      offChanges();
    };
  }

  return {
    status,
    start,
    syncNow,
    approveMassDelete,
    setNetwork,
    /** The device file's overrides; null until read. */
    situation,
    readSituation,
    changeSituation,
    /** Resolves once the notes named by events so far are shown. */
    settled: async (): Promise<void> => {
      while (draining) await draining;
    },
  };
}
