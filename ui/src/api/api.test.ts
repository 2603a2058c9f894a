import { beforeEach, describe, expect, it, vi } from 'vitest';

const invoke = vi.fn();
const listen = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...a: unknown[]) => invoke(...a) }));
vi.mock('@tauri-apps/api/event', () => ({ listen: (...a: unknown[]) => listen(...a) }));
const win = {
  handler: null as null | (() => Promise<void>),
  unlisten: vi.fn(),
  destroy: vi.fn(async () => undefined),
  close: vi.fn(async () => undefined),
  listen: vi.fn(async (_event: string, h: () => Promise<void>) => {
    win.handler = h;
    return win.unlisten;
  }),
};
vi.mock('@tauri-apps/api/window', () => ({ getCurrentWindow: () => win }));

const { tauriApi, ApiError, toSyncStatus, toConflictView } = await import('./index');

const status = {
  connectivity: 'online',
  net_mode: { mode: 'flaky', drop: null, latency_ms: 200 },
  phase: 'idle',
  pending: 0,
  failed: 0,
  progress: null,
  last_success_ms: null,
  last_error: null,
  open_conflicts: 0,
  server_reset_ms: null,
  next_retry_ms: null,
  updated_ms: 1,
  deferred: 'on a metered network: 1 change waits for Wi-Fi',
} as const;

/** What the fake core answers, per command (null otherwise). */
const answers: Record<string, unknown> = {
  list_conflicts: [],
  sync_status: status,
  get_settings: { theme: 'dark' },
};

describe('the IPC contract', () => {
  beforeEach(() => {
    invoke.mockReset();
    invoke.mockImplementation(async (cmd: string) => answers[cmd] ?? null);
  });

  it.each([
    ['appInfo', [], 'app_info', undefined],
    ['unlock', ['secret words'], 'unlock', { passphrase: 'secret words' }],
    ['listNotes', [], 'list_notes', undefined],
    ['noteSummaries', [['n1', 'n2']], 'note_summaries', { ids: ['n1', 'n2'] }],
    ['searchNotes', ['pie'], 'search_notes', { query: 'pie' }],
    ['getNote', ['n1'], 'get_note', { id: 'n1' }],
    [
      'createNote',
      [{ title: 't', body: 'b', tags: [], pinned: false }],
      'create_note',
      { draft: { title: 't', body: 'b', tags: [], pinned: false } },
    ],
    ['updateNote', ['n1', { body: 'x' }], 'update_note', { id: 'n1', patch: { body: 'x' }, baseHlc: null, baseBody: null }],
    ['updateNote', ['n1', { body: 'x' }, { hlc: 'h', body: 'b' }], 'update_note', { id: 'n1', patch: { body: 'x' }, baseHlc: 'h', baseBody: 'b' }],
    ['deleteNote', ['n1'], 'delete_note', { id: 'n1' }],
    ['listConflicts', [], 'list_conflicts', undefined],
    ['resolveConflict', [3, { kind: 'merged', body: 'm' }], 'resolve_conflict', { id: 3, resolution: { kind: 'merged', body: 'm' } }],
    ['getConflictStrategy', [null], 'get_conflict_strategy', { noteId: null }],
    ['getConflictStrategy', ['n1'], 'get_conflict_strategy', { noteId: 'n1' }],
    ['setConflictStrategy', ['n1', 'always_ask'], 'set_conflict_strategy', { noteId: 'n1', strategy: 'always_ask' }],
    ['setConflictStrategy', ['n1', null], 'set_conflict_strategy', { noteId: 'n1', strategy: null }],
    ['syncStatus', [], 'sync_status', undefined],
    ['syncNow', [], 'sync_now', undefined],
    ['approveMassDelete', [], 'approve_mass_delete', undefined],
    ['setNetwork', [{ mode: 'offline' }], 'set_network', { mode: { mode: 'offline' } }],
    [
      'setNetwork',
      [{ mode: 'flaky', drop: 0.2, latency_ms: 300 }],
      'set_network',
      { mode: { mode: 'flaky', drop: 0.2, latency_ms: 300 } },
    ],
    ['getSyncPolicy', [], 'get_sync_policy', undefined],
    [
      'setSyncPolicy',
      [{ metered: 'never', pause_on_low_battery: false }],
      'set_sync_policy',
      { policy: { metered: 'never', pause_on_low_battery: false } },
    ],
    ['getDeviceSituation', [], 'get_device_situation', undefined],
    ['setDeviceSituation', [{ network: 'metered', power: 'low' }], 'set_device_situation', { overrides: { network: 'metered', power: 'low' } }],
    ['setDeviceSituation', [{}], 'set_device_situation', { overrides: {} }],
    ['accountInfo', [], 'account_info', undefined],
    [
      'register',
      [{ serverUrl: 'https://s', username: 'ada', passphrase: 'p' }],
      'register',
      { serverUrl: 'https://s', username: 'ada', passphrase: 'p' },
    ],
    ['logIn', [{ serverUrl: 'https://s', username: 'ada', passphrase: 'p' }], 'log_in', { serverUrl: 'https://s', username: 'ada', passphrase: 'p', totpCode: null }],
    ['logIn', [{ serverUrl: 'https://s', username: 'ada', passphrase: 'p', totpCode: '123456' }], 'log_in', { serverUrl: 'https://s', username: 'ada', passphrase: 'p', totpCode: '123456' }],
    ['logOut', [], 'log_out', undefined],
    ['getSettings', [], 'get_settings', undefined],
    ['setSettings', [{ theme: 'dark' }], 'set_settings', { settings: { theme: 'dark' } }],
  ] as const)('%s calls %s', async (method, args, cmd, payload) => {
    await (tauriApi[method] as (...a: unknown[]) => Promise<unknown>)(...args);
    expect(invoke.mock.calls[0]).toEqual(payload === undefined ? [cmd] : [cmd, payload]);
  });

  it('rejections become ApiError with the core code and message', async () => {
    invoke.mockRejectedValueOnce({ code: 'too_large', message: 'The note is over 1 MiB.' });
    const e = await tauriApi.updateNote('n1', { body: 'x' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toMatchObject({ code: 'too_large', message: 'The note is over 1 MiB.' });
  });

  it('a plain string rejection still reads', async () => {
    invoke.mockRejectedValueOnce('command get_note not found');
    await expect(tauriApi.getNote('x')).rejects.toMatchObject({ code: 'internal', message: 'command get_note not found' });
  });

  it('listens to the sync-status event', async () => {
    listen.mockResolvedValueOnce(() => undefined);
    const cb = vi.fn();
    await tauriApi.onSyncStatus(cb);
    expect(listen).toHaveBeenCalledWith('sync-status', expect.any(Function));
    const handler = listen.mock.calls[0]![1] as (e: { payload: unknown }) => void;
    handler({ payload: status });
    expect(cb).toHaveBeenCalledWith({ ...status, net_mode: { mode: 'flaky', drop: 0, latency_ms: 200 } });
  });

  it('listens to the notes-changed event', async () => {
    listen.mockResolvedValueOnce(() => undefined);
    const cb = vi.fn();
    await tauriApi.onNotesChanged(cb);
    const call = listen.mock.calls.find((c) => c[0] === 'notes-changed');
    expect(call).toBeDefined();
    const handler = call![1] as (e: { payload: unknown }) => void;
    handler({ payload: { ids: ['n1', 'n2'], all: false } });
    expect(cb).toHaveBeenLastCalledWith(['n1', 'n2'], false);
    // The shell fell behind: it cannot say which.
    handler({ payload: { ids: [], all: true } });
    expect(cb).toHaveBeenLastCalledWith([], true);
  });

  it('narrows what Rust types as plain strings', async () => {
    expect(toSyncStatus({ ...status, net_mode: { mode: 'offline' } }).net_mode).toEqual({ mode: 'offline' });
    const v = { title: '', body: '', tags: [], pinned: false, deleted: false, hlc: 'h' };
    const c = { id: 1, note_id: 'n', opened_at: 0, resolved_at: null, base_body: null, mine: v, theirs: v };
    expect(toConflictView({ ...c, kind: 'restored', resolution: null })).toMatchObject({ kind: 'restored', resolution: null });
    expect(toConflictView({ ...c, kind: 'something_new', resolution: 'odd' })).toMatchObject({ kind: 'overlap', resolution: null });
    invoke.mockResolvedValueOnce({ theme: 'neon' });
    expect(await tauriApi.getSettings()).toEqual({ theme: 'system' });
  });
});

describe('closing the window', () => {
  it('saves, then destroys the window', async () => {
    const order: string[] = [];
    win.destroy.mockImplementation(async () => void order.push('destroy'));
    await tauriApi.onCloseRequested!(async () => void order.push('flush'));
    expect(win.listen).toHaveBeenCalledWith('tauri://close-requested', expect.any(Function));
    await win.handler!();
    expect(order).toEqual(['flush', 'destroy']);
    expect(win.unlisten).not.toHaveBeenCalled();
  });

  it('without the destroy permission it stops listening, so the window can still close', async () => {
    win.destroy.mockRejectedValueOnce(new Error('window.destroy not allowed'));
    await tauriApi.onCloseRequested!(async () => undefined);
    await win.handler!();
    expect(win.unlisten).toHaveBeenCalled();
    expect(win.close).toHaveBeenCalled();
  });
});
