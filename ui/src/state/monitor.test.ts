// @vitest-environment jsdom
// The Sync panel's state over the dev harness's in-memory core: what it
// reads and when, retry and discard (which needs a confirmation first).
import { createRoot } from 'solid-js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createFakeApi } from '../../dev/fake';
import { createAppState } from './index';
import { statusKey } from './monitor';

let stop: (() => void) | null = null;
afterEach(() => {
  stop?.();
  stop = null;
  localStorage.clear();
});

async function start(scenario: Parameters<typeof createFakeApi>[0]['scenario'] = 'monitor') {
  const fake = createFakeApi({ scenario, count: 20, theme: 'light' });
  const spies = {
    syncHistory: vi.spyOn(fake.api, 'syncHistory'),
    outboxEntries: vi.spyOn(fake.api, 'outboxEntries'),
    outboxRetry: vi.spyOn(fake.api, 'outboxRetry'),
    outboxDiscard: vi.spyOn(fake.api, 'outboxDiscard'),
  };
  const app = createRoot((dispose) => {
    const a = createAppState(fake.api);
    stop = () => {
      a.dispose();
      dispose();
    };
    return a;
  });
  await app.init();
  return { fake, app, ...spies };
}

describe('the sync monitor state', () => {
  it('reads nothing until the panel opens, then the history and the outbox', async () => {
    const { app, syncHistory, outboxEntries } = await start();
    expect(syncHistory).not.toHaveBeenCalled();
    app.monitor.setOpen(true);
    await vi.waitFor(() => expect(app.monitor.history()).not.toBeNull());
    expect(outboxEntries).toHaveBeenCalledTimes(1);
    expect(app.monitor.failed().map((e) => e.state)).toEqual(['failed', 'failed']);
    expect(app.monitor.history()!.insights.stale).toBe(true);
  });

  it('reads again when the status moves on while open, not on progress alone, not when closed', async () => {
    const { app, fake, syncHistory } = await start();
    app.monitor.setOpen(true);
    await vi.waitFor(() => expect(app.monitor.history()).not.toBeNull());
    expect(syncHistory).toHaveBeenCalledTimes(1);
    fake.emitStatus({ progress: { done: 1, total: 4 } });
    // The app has taken this status (the monitor's effect runs in the same
    // reactive update): no read followed.
    await vi.waitFor(() => expect(app.sync.status()?.progress).toEqual({ done: 1, total: 4 }));
    expect(syncHistory).toHaveBeenCalledTimes(1);
    fake.emitStatus({ phase: 'idle', last_success_ms: Date.now() + 1 });
    await vi.waitFor(() => expect(syncHistory).toHaveBeenCalledTimes(2));
    app.monitor.setOpen(false);
    const later = Date.now() + 2;
    fake.emitStatus({ last_success_ms: later });
    await vi.waitFor(() => expect(app.sync.status()?.last_success_ms).toBe(later));
    expect(syncHistory).toHaveBeenCalledTimes(2);
  });

  it('retry calls the command with the entry and the list refreshes without it', async () => {
    const { app, outboxRetry, outboxEntries } = await start();
    app.monitor.setOpen(true);
    await vi.waitFor(() => expect(app.monitor.failed()).toHaveLength(2));
    const [first, second] = app.monitor.failed();
    const reads = outboxEntries.mock.calls.length;
    expect(await app.monitor.retry(first!.seq)).toBe(true);
    expect(outboxRetry).toHaveBeenCalledWith(first!.seq);
    expect(outboxEntries.mock.calls.length).toBeGreaterThan(reads);
    expect(app.monitor.failed().map((e) => e.seq)).toEqual([second!.seq]);
    expect(app.ui.toasts().at(-1)!.message).toContain('back in the queue');
  });

  it('retry of every failed entry passes null', async () => {
    const { app, outboxRetry } = await start();
    app.monitor.setOpen(true);
    await vi.waitFor(() => expect(app.monitor.failed()).toHaveLength(2));
    await app.monitor.retry(null);
    expect(outboxRetry).toHaveBeenCalledWith(null);
    expect(app.monitor.failed()).toEqual([]);
  });

  it('discard does nothing without the confirmation, and discards once confirmed', async () => {
    const { app, outboxDiscard } = await start();
    app.monitor.setOpen(true);
    await vi.waitFor(() => expect(app.monitor.failed()).toHaveLength(2));
    const seq = app.monitor.failed()[0]!.seq;
    expect(await app.monitor.confirmDiscard(seq)).toBe(false);
    expect(outboxDiscard).not.toHaveBeenCalled();
    app.monitor.askDiscard(seq);
    app.monitor.cancelDiscard();
    expect(await app.monitor.confirmDiscard(seq)).toBe(false);
    // Asked for another entry: this one is still not confirmed.
    app.monitor.askDiscard(app.monitor.failed()[1]!.seq);
    expect(await app.monitor.confirmDiscard(seq)).toBe(false);
    expect(outboxDiscard).not.toHaveBeenCalled();
    app.monitor.askDiscard(seq);
    expect(await app.monitor.confirmDiscard(seq)).toBe(true);
    expect(outboxDiscard).toHaveBeenCalledExactlyOnceWith(seq);
    expect(app.monitor.failed().some((e) => e.seq === seq)).toBe(false);
    expect(app.monitor.outbox()!.discarded.map((d) => d.seq)).toEqual([seq]);
    expect(app.monitor.confirming()).toBeNull();
  });

  it('a refused command says why and the list is read again', async () => {
    const { app, outboxRetry, outboxEntries } = await start();
    app.monitor.setOpen(true);
    await vi.waitFor(() => expect(app.monitor.failed()).toHaveLength(2));
    outboxRetry.mockRejectedValueOnce({ code: 'locked', message: 'the store is locked: enter its passphrase first' });
    const reads = outboxEntries.mock.calls.length;
    expect(await app.monitor.retry(app.monitor.failed()[0]!.seq)).toBe(false);
    expect(app.ui.toasts().at(-1)).toMatchObject({ kind: 'error', code: 'locked' });
    expect(outboxEntries.mock.calls.length).toBeGreaterThan(reads);
    expect(app.monitor.failed()).toHaveLength(2);
  });

  it('statusKey ignores progress and timestamps', () => {
    const base = { connectivity: 'online', net_mode: { mode: 'online' }, phase: 'pushing', pending: 3, failed: 0, progress: { done: 1, total: 3 }, last_success_ms: 1, last_error: null, open_conflicts: 0, server_reset_ms: null, next_retry_ms: null, updated_ms: 5, deferred: null } as const;
    expect(statusKey({ ...base, progress: { done: 2, total: 3 }, updated_ms: 9 })).toBe(statusKey(base));
    expect(statusKey({ ...base, phase: 'idle' })).not.toBe(statusKey(base));
    expect(statusKey({ ...base, failed: 1 })).not.toBe(statusKey(base));
  });
});
