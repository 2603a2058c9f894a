// The Sync panel's state: the sync history with its insights and the
// outbox, read when the panel opens and again whenever the engine's status
// moves on (a pass ended, the counts changed), and the two things a person
// may do about a change the server refused: retry it, or discard it, which
// needs a confirmation first (nothing is dropped without one).
import { createEffect, createMemo, createSignal, untrack } from 'solid-js';
import { toApiError } from '../api/errors';
import type { Api, OutboxListing, SyncHistory, SyncStatus } from '../api/types';
import type { UiState } from './ui';

export type MonitorState = ReturnType<typeof createMonitor>;

/**
 * What of the status can change the history or the outbox: not the
 * progress of a pass nor its timestamp, so a pass's progress events do not
 * re-read the history; its end does.
 */
export function statusKey(s: SyncStatus | null): string {
  if (!s) return '';
  return [s.phase, s.pending, s.failed, s.last_success_ms, s.last_error?.at_ms, s.deferred, s.net_mode.mode].join('|');
}

export function createMonitor(api: Api, ui: UiState, status: () => SyncStatus | null) {
  const [open, setOpen] = createSignal(false);
  const [history, setHistory] = createSignal<SyncHistory | null>(null);
  const [outbox, setOutbox] = createSignal<OutboxListing | null>(null);
  const [loadError, setLoadError] = createSignal<string | null>(null);
  const [loading, setLoading] = createSignal(false);
  // The entry being retried or discarded ('all': every failed one).
  const [busy, setBusy] = createSignal<number | 'all' | null>(null);
  // The entry whose discard waits for the person's confirmation.
  const [confirming, setConfirming] = createSignal<number | null>(null);

  // One read at a time; a request during it reads once more after it, so
  // the last answer shown is never older than the last change.
  let reading: Promise<void> | null = null;
  let again = false;

  async function readOnce(): Promise<void> {
    setLoading(true);
    try {
      const [h, o] = await Promise.all([api.syncHistory(), api.outboxEntries()]);
      setHistory(h);
      setOutbox(o);
      setLoadError(null);
      // An entry that left the outbox (sent, or discarded elsewhere) needs no confirmation.
      const c = confirming();
      if (c !== null && !o.entries.some((e) => e.seq === c)) setConfirming(null);
    } catch (e) {
      setLoadError(toApiError(e).message);
    } finally {
      setLoading(false);
    }
  }

  function refresh(): Promise<void> {
    if (reading) {
      again = true;
      return reading;
    }
    reading = (async () => {
      try {
        do {
          again = false;
          await readOnce();
        } while (again);
      } finally {
        reading = null;
      }
    })();
    return reading;
  }

  // Read on opening, and again when the engine's status moves on while open.
  const key = createMemo(() => statusKey(status()));
  createEffect(() => {
    if (!open()) return;
    key();
    untrack(() => void refresh());
  });

  const failed = createMemo(() => outbox()?.entries.filter((e) => e.state === 'failed') ?? []);
  const pending = createMemo(() => outbox()?.entries.filter((e) => e.state === 'pending') ?? []);

  /** Run one outbox action with `which` shown busy, toast its outcome, then re-read. */
  async function act(which: number | 'all', run: () => Promise<string>): Promise<boolean> {
    setBusy(which);
    try {
      ui.toast(await run());
      return true;
    } catch (e) {
      ui.toastError(e);
      return false;
    } finally {
      setBusy(null);
      await refresh();
    }
  }

  /** Put a failed entry (or every failed one: null) back in the queue; the engine syncs at once. */
  function retry(seq: number | null): Promise<boolean> {
    return act(seq ?? 'all', async () => {
      const back = await api.outboxRetry(seq);
      return `${back.length === 1 ? '1 change is' : `${back.length} changes are`} back in the queue and will be sent at the next sync.`;
    });
  }

  /** Ask before discarding entry `seq`: the panel shows what is lost. */
  function askDiscard(seq: number): void {
    setConfirming(seq);
  }

  function cancelDiscard(): void {
    setConfirming(null);
  }

  /**
   * Discard entry `seq`, only if its discard was asked for and is still
   * awaiting confirmation (`askDiscard`); otherwise nothing happens.
   */
  async function confirmDiscard(seq: number): Promise<boolean> {
    if (confirming() !== seq) return false;
    setConfirming(null);
    return act(seq, async () => {
      await api.outboxDiscard(seq);
      return 'Discarded: the change will not be sent. The note keeps its text on this device.';
    });
  }

  return {
    open,
    setOpen: (v: boolean) => {
      if (!v) setConfirming(null);
      setOpen(v);
    },
    history,
    outbox,
    /** Failed entries (the server refused them), in send order. */
    failed,
    /** Entries waiting to be sent. */
    pending,
    loading,
    loadError,
    busy,
    confirming,
    refresh,
    retry,
    askDiscard,
    cancelDiscard,
    confirmDiscard,
  };
}
