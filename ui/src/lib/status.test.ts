import { describe, expect, it } from 'vitest';
import type { AccountInfo, SyncStatus } from '../api/types';
import { conflictsChanged, isNewer, serverResetNotice, statusView } from './status';
import { fullTime } from './time';

const NOW = 1_750_000_000_000;
const online: AccountInfo = { server_url: 'https://s.example', username: 'ada', logged_in: true };
const local: AccountInfo = { server_url: null, username: null, logged_in: false };

function st(p: Partial<SyncStatus> = {}): SyncStatus {
  return {
    connectivity: 'online',
    net_mode: { mode: 'online' },
    phase: 'idle',
    pending: 0,
    failed: 0,
    progress: null,
    last_success_ms: NOW - 2 * 60_000,
    last_error: null,
    open_conflicts: 0,
    server_reset_ms: null,
    next_retry_ms: null,
    updated_ms: NOW,
    deferred: null,
    ...p,
  };
}

describe('statusView', () => {
  it('online and idle', () => {
    const v = statusView(st(), online, NOW);
    expect(v).toMatchObject({
      label: 'Online',
      tone: 'ok',
      pending: null,
      lastSynced: 'Synced 2 min ago',
      error: null,
      showRetry: false,
      showApprove: false,
      progress: null,
    });
  });

  it('offline (switched off by the user) with pending changes', () => {
    const v = statusView(
      st({ connectivity: 'switched_off', net_mode: { mode: 'offline' }, phase: 'stopped', pending: 3 }),
      online,
      NOW,
    );
    expect(v.label).toBe('Working offline');
    expect(v.tone).toBe('off');
    expect(v.pending).toBe('3 pending');
    expect(v.showRetry).toBe(false);
    expect(v.announce).toBe('Working offline. 3 pending');
  });

  it('offline because the network is gone', () => {
    const v = statusView(st({ connectivity: 'offline', pending: 1 }), online, NOW);
    expect(v.label).toBe('Offline');
    expect(v.pending).toBe('1 pending');
  });

  it('syncing with progress', () => {
    const v = statusView(st({ phase: 'pushing', pending: 10, progress: { done: 3, total: 10 } }), online, NOW);
    expect(v.label).toBe('Syncing 3/10');
    expect(v.tone).toBe('busy');
    expect(v.progress).toBeCloseTo(0.3);
  });

  it('syncing without a total yet', () => {
    const v = statusView(st({ phase: 'pulling', progress: null }), online, NOW);
    expect(v.label).toBe('Syncing…');
    expect(v.progress).toBeNull();
  });

  it('an error with retry and when the next try is', () => {
    const v = statusView(
      st({
        connectivity: 'offline',
        phase: 'waiting_retry',
        pending: 2,
        last_error: { code: 'unreachable', message: 'The server cannot be reached.', at_ms: NOW - 1000 },
        next_retry_ms: NOW + 12_000,
      }),
      online,
      NOW,
    );
    expect(v.error).toBe('The server cannot be reached. Retrying in 12 s.');
    expect(v.errorCode).toBe('unreachable');
    expect(v.showRetry).toBe(true);
    expect(v.showApprove).toBe(false);
  });

  it('an error while idle shows until a later success', () => {
    const err = { code: 'network', message: 'Timed out.', at_ms: NOW - 1000 };
    expect(statusView(st({ last_error: err, last_success_ms: NOW - 5000 }), online, NOW).error).toBe('Timed out.');
    expect(statusView(st({ last_error: err, last_success_ms: NOW }), online, NOW).error).toBeNull();
  });

  it('held by the mass-delete rail asks for approval, not a retry', () => {
    const v = statusView(
      st({
        phase: 'held',
        last_error: { code: 'mass_delete_held', message: 'This sync would delete 412 notes.', at_ms: NOW },
      }),
      online,
      NOW,
    );
    expect(v.label).toBe('Sync paused');
    expect(v.tone).toBe('warn');
    expect(v.showApprove).toBe(true);
    expect(v.showRetry).toBe(false);
    expect(v.error).toBe('This sync would delete 412 notes.');
  });

  it('failed changes and open conflicts are counted', () => {
    const v = statusView(st({ failed: 1, open_conflicts: 2 }), online, NOW);
    expect(v.failed).toBe('1 failed');
    expect(v.conflicts).toBe('2 conflicts');
    expect(statusView(st({ open_conflicts: 1 }), online, NOW).conflicts).toBe('1 conflict');
  });

  it('a permanent failure stops sync and says why, with a retry', () => {
    const v = statusView(
      st({ phase: 'stopped', last_error: { code: 'unauthorized', message: 'Log in again.', at_ms: NOW } }),
      online,
      NOW,
    );
    expect(v).toMatchObject({ label: 'Sync stopped', tone: 'error', error: 'Log in again.', showRetry: true });
  });

  it('never synced', () => {
    expect(statusView(st({ last_success_ms: null }), online, NOW).lastSynced).toBe('Never synced');
  });

  it('local only (no account): no last-synced, no retry', () => {
    const v = statusView(st({ connectivity: 'unknown', phase: 'stopped', last_success_ms: null }), local, NOW);
    expect(v.label).toBe('Local only');
    expect(v.lastSynced).toBeNull();
    expect(v.showRetry).toBe(false);
  });

  it('local only: queued changes wait for an account, not for a sync', () => {
    const v = statusView(st({ connectivity: 'unknown', phase: 'stopped', pending: 12 }), local, NOW);
    expect(v.pending).toBe('12 changes to upload when you sign in');
    expect(statusView(st({ connectivity: 'unknown', phase: 'stopped', pending: 1 }), local, NOW).pending).toBe(
      '1 change to upload when you sign in',
    );
    expect(statusView(st({ pending: 12 }), online, NOW).pending).toBe('12 pending');
  });

  it('sync held back by the policy says why instead of when it last synced', () => {
    const v = statusView(st({ pending: 3, deferred: 'low battery: 3 changes wait for charging' }), online, NOW);
    expect(v.deferred).toBe('Low battery: 3 changes wait for charging');
    expect(v.deferredTitle).toBe(`Low battery: 3 changes wait for charging. Last synced ${fullTime(NOW - 2 * 60_000)}.`);
    // Still known, for whoever shows it; the bar puts the reason in its place.
    expect(v.lastSynced).toBe('Synced 2 min ago');
    expect(v).toMatchObject({ label: 'Online', tone: 'ok', error: null, showRetry: false });
    expect(v.announce).toBe('Online. 3 pending. Low battery: 3 changes wait for charging');
  });

  it('a held-back device that never synced says so in the tooltip', () => {
    const v = statusView(
      st({ pending: 1, last_success_ms: null, deferred: 'on a metered network: 1 change waits for Wi-Fi' }),
      online,
      NOW,
    );
    expect(v.deferred).toBe('On a metered network: 1 change waits for Wi-Fi');
    expect(v.deferredTitle).toBe('On a metered network: 1 change waits for Wi-Fi. Never synced.');
  });

  it('nothing held back, or no account to sync: no reason', () => {
    expect(statusView(st(), online, NOW)).toMatchObject({ deferred: null, deferredTitle: null });
    expect(statusView(st({ deferred: '  ' }), online, NOW).deferred).toBeNull();
    const v = statusView(st({ phase: 'stopped', deferred: 'low battery: nothing waits for charging' }), local, NOW);
    expect(v).toMatchObject({ deferred: null, deferredTitle: null });
  });

  it('a simulated bad network says so', () => {
    const v = statusView(st({ net_mode: { mode: 'flaky', drop: 0.3, latency_ms: 500 } }), online, NOW);
    expect(v.label).toBe('Online (bad network)');
  });
});

describe('conflictsChanged', () => {
  it('reads the conflicts again only when their count moves', () => {
    expect(conflictsChanged(st(), st({ open_conflicts: 1 }))).toBe(true);
    expect(conflictsChanged(st({ open_conflicts: 2 }), st({ open_conflicts: 1 }))).toBe(true);
    // A pass, a pending count or a phase change says nothing about conflicts.
    expect(conflictsChanged(st(), st({ last_success_ms: NOW }))).toBe(false);
    expect(conflictsChanged(st(), st({ pending: 1 }))).toBe(false);
    expect(conflictsChanged(st({ phase: 'pulling' }), st({ phase: 'idle' }))).toBe(false);
    // The first status: the conflicts are read at start-up anyway.
    expect(conflictsChanged(null, st({ open_conflicts: 2 }))).toBe(false);
  });
});

describe('isNewer', () => {
  it('drops an older status that arrives late', () => {
    expect(isNewer(null, st())).toBe(true);
    expect(isNewer(st({ updated_ms: 5 }), st({ updated_ms: 4 }))).toBe(false);
    expect(isNewer(st({ updated_ms: 5 }), st({ updated_ms: 5 }))).toBe(true);
  });
});

describe('serverResetNotice', () => {
  it('tells once, when a pass finds the server reset', () => {
    const before = st();
    const after = st({ server_reset_ms: NOW });
    expect(serverResetNotice(before, after)).toMatch(/reset or restored/);
    expect(serverResetNotice(after, st({ server_reset_ms: NOW, pending: 3 }))).toBeNull();
    expect(serverResetNotice(after, st({ server_reset_ms: NOW + 1000 }))).toMatch(/sent this device’s notes/);
  });
  it('does not repeat a reset from before the app started', () => {
    expect(serverResetNotice(null, st({ server_reset_ms: NOW - 60_000 }))).toBeNull();
  });
  it('says nothing while there was no reset', () => {
    expect(serverResetNotice(st(), st({ pending: 2 }))).toBeNull();
  });
});
