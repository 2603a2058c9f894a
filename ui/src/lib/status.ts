// What the status bar says, from the engine's SyncStatus. Pure, so every
// state has a test.
import type { AccountInfo, SyncStatus } from '../api/types';
import { fullTime, relativeTime, untilTime } from './time';

export type Tone = 'ok' | 'busy' | 'off' | 'warn' | 'error' | 'local';

export interface StatusView {
  /** Short state: "Online", "Offline", "Working offline", "Syncing 3/10"… */
  label: string;
  tone: Tone;
  /** 0..1 while a pass reports progress. */
  progress: number | null;
  /** "3 pending" or null when nothing waits. */
  pending: string | null;
  failed: string | null;
  conflicts: string | null;
  /** "Synced 2 min ago", "Never synced", null when local only. */
  lastSynced: string | null;
  /**
   * Why sync waits under the sync policy ("Low battery: 3 changes wait for
   * charging"), shown in place of `lastSynced`; null when nothing is held.
   */
  deferred: string | null;
  /** The tooltip of `deferred`: the reason whole (it may be cut short) and the last sync. */
  deferredTitle: string | null;
  /** The last error for people, with when the next try is. */
  error: string | null;
  errorCode: string | null;
  showRetry: boolean;
  /** Sync is held by the mass-delete rail: ask the user to approve. */
  showApprove: boolean;
  /** One sentence for screen readers (aria-live). */
  announce: string;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export function statusView(s: SyncStatus, account: AccountInfo | null, now: number): StatusView {
  const localOnly = account !== null && !account.logged_in;
  const held = s.phase === 'held' || s.last_error?.code === 'mass_delete_held';
  const syncing = s.phase === 'pushing' || s.phase === 'pulling';

  let label: string;
  let tone: Tone;
  if (localOnly) {
    label = 'Local only';
    tone = 'local';
  } else if (held) {
    label = 'Sync paused';
    tone = 'warn';
  } else if (s.connectivity === 'switched_off' || s.net_mode.mode === 'offline') {
    label = 'Working offline';
    tone = 'off';
  } else if (s.phase === 'stopped' && s.last_error) {
    // A permanent failure (signed out on the server, a refused change…).
    label = 'Sync stopped';
    tone = 'error';
  } else if (s.connectivity === 'offline') {
    label = 'Offline';
    tone = 'off';
  } else if (syncing) {
    label = s.progress && s.progress.total > 0 ? `Syncing ${s.progress.done}/${s.progress.total}` : 'Syncing…';
    tone = 'busy';
  } else if (s.connectivity === 'unknown') {
    label = 'Connecting…';
    tone = 'busy';
  } else if (s.net_mode.mode === 'flaky') {
    label = 'Online (bad network)';
    tone = 'warn';
  } else {
    label = 'Online';
    tone = 'ok';
  }
  if (!held && !localOnly && s.last_error && s.phase === 'waiting_retry' && tone === 'ok') tone = 'warn';

  const progress =
    syncing && s.progress && s.progress.total > 0 ? Math.min(1, Math.max(0, s.progress.done / s.progress.total)) : null;

  // With no account nothing is "pending" a sync that will never run: say
  // what happens to those changes instead.
  let pending: string | null = null;
  if (s.pending > 0) pending = localOnly ? `${plural(s.pending, 'change')} to upload when you sign in` : `${s.pending} pending`;
  const failed = s.failed > 0 ? `${s.failed} failed` : null;
  const conflicts = s.open_conflicts > 0 ? plural(s.open_conflicts, 'conflict') : null;

  let lastSynced: string | null = null;
  if (!localOnly) {
    lastSynced = s.last_success_ms !== null ? `Synced ${relativeTime(s.last_success_ms, now)}` : 'Never synced';
  }

  // The engine words the reason as a clause ("low battery: …"); on its own
  // in the bar it reads as a sentence. With no account there is no sync to
  // hold back, so nothing is said.
  const reason = localOnly ? null : (s.deferred ?? '').trim() || null;
  const deferred = reason ? reason.charAt(0).toUpperCase() + reason.slice(1) : null;
  const deferredTitle = deferred
    ? `${deferred}. ${s.last_success_ms !== null ? `Last synced ${fullTime(s.last_success_ms)}.` : 'Never synced.'}`
    : null;

  let error: string | null = null;
  const errorCode = s.last_error?.code ?? null;
  if (held) {
    error = s.last_error?.message ?? 'This sync would delete many notes. Nothing was deleted yet.';
  } else if (s.last_error && s.phase !== 'idle' && !syncing) {
    error = s.last_error.message;
    if (s.phase === 'waiting_retry' && s.next_retry_ms !== null) error += ` Retrying ${untilTime(s.next_retry_ms, now)}.`;
  } else if (s.last_error && s.phase === 'idle' && (s.last_success_ms ?? 0) < s.last_error.at_ms) {
    error = s.last_error.message;
  }

  const showRetry = !localOnly && !held && error !== null && s.connectivity !== 'switched_off';

  const parts = [label];
  if (pending) parts.push(pending);
  if (deferred) parts.push(deferred);
  if (failed) parts.push(failed);
  if (conflicts) parts.push(conflicts);
  if (error) parts.push(error);
  return {
    label,
    tone,
    progress,
    pending,
    failed,
    conflicts,
    lastSynced,
    deferred,
    deferredTitle,
    error,
    errorCode,
    showRetry,
    showApprove: held,
    announce: parts.join('. '),
  };
}

/**
 * Whether the conflict list must be read again after a status update: its
 * count moved. (Notes are re-read from the `notes-changed` event instead,
 * which names them.)
 */
export function conflictsChanged(prev: SyncStatus | null, next: SyncStatus): boolean {
  return prev !== null && prev.open_conflicts !== next.open_conflicts;
}

/**
 * The notice to show when this update is the one in which the device found
 * its sync server reset or restored from an older backup (and sent its
 * notes again); null otherwise. A reset from before the app started (the
 * first status seen) is not announced again.
 */
export function serverResetNotice(prev: SyncStatus | null, next: SyncStatus): string | null {
  if (!prev || next.server_reset_ms === null || next.server_reset_ms === undefined) return null;
  if (prev.server_reset_ms !== null && prev.server_reset_ms !== undefined && prev.server_reset_ms >= next.server_reset_ms) return null;
  return 'The sync server lost its place (it was reset or restored from a backup). Outpost sent this device’s notes to it again; nothing was lost here.';
}

/** Whether `next` may replace `prev` (the start-up answer can arrive after a newer event). */
export function isNewer(prev: SyncStatus | null, next: SyncStatus): boolean {
  return !prev || next.updated_ms >= prev.updated_ms;
}
