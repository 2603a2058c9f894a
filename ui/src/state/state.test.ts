// @vitest-environment jsdom
// The app's state over the dev harness's in-memory core, without a DOM to
// render: what a `notes-changed` event does to the list store and to the
// open note, and what a status change alone no longer does. Timers are fake,
// so nothing here waits on the clock.
import { createRoot } from 'solid-js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createFakeApi } from '../../dev/fake';
import { type AppState, createAppState } from './index';

const id = (i: number) => `0190a1b2-c3d4-7e5f-8a9b-${(i + 0x1000).toString(16).padStart(12, '0')}`;

let stop: (() => void) | null = null;
beforeEach(() => vi.useFakeTimers());
afterEach(() => {
  stop?.();
  stop = null;
  vi.useRealTimers();
  localStorage.clear();
});

async function start(count = 10, scenario: Parameters<typeof createFakeApi>[0]['scenario'] = 'many') {
  const fake = createFakeApi({ scenario, count, theme: 'light' });
  const spies = {
    listNotes: vi.spyOn(fake.api, 'listNotes'),
    noteSummaries: vi.spyOn(fake.api, 'noteSummaries'),
    getNote: vi.spyOn(fake.api, 'getNote'),
    listConflicts: vi.spyOn(fake.api, 'listConflicts'),
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
  await vi.advanceTimersByTimeAsync(0);
  return { fake, app, ...spies };
}

const ids = (app: AppState) => app.notes.items().map((n) => n.id);
const line = (app: AppState, noteId: string) => app.notes.items().find((n) => n.id === noteId);

describe('notes-changed patches the list store', () => {
  it('updates a changed line in place: same object, same place, new fields', async () => {
    const { fake, app, listNotes, noteSummaries } = await start();
    const before = line(app, id(2))!;
    const untouched = line(app, id(3))!;
    const order = ids(app);
    fake.remote.edit(id(2), { title: 'Changed elsewhere' });
    await app.sync.settled();
    expect(noteSummaries).toHaveBeenCalledWith([id(2)]);
    const after = line(app, id(2))!;
    expect(after).toBe(before);
    expect(after.title).toBe('Changed elsewhere');
    // Newest first: the edited note moves up, under the pinned ones (0 and 7).
    const rest = order.filter((x) => x !== id(0) && x !== id(7) && x !== id(2));
    expect(order.slice(0, 2)).toEqual([id(0), id(7)]);
    expect(ids(app)).toEqual([id(0), id(7), id(2), ...rest]);
    // Lines the event did not name are the same objects.
    expect(line(app, id(3))).toBe(untouched);
    expect(listNotes).toHaveBeenCalledTimes(1);
  });

  it('inserts a pulled note where it sorts, and drops a deleted one', async () => {
    const { fake, app, listNotes } = await start();
    const kept = line(app, id(5))!;
    const created = fake.remote.create('From elsewhere');
    await app.sync.settled();
    // Pinned first (notes 0 and 7), then the newest: the one just pulled.
    expect(ids(app).slice(0, 3)).toEqual([id(0), id(7), created]);
    expect(line(app, created)).toMatchObject({ title: 'From elsewhere', sync: 'synced' });
    fake.remote.delete(id(4));
    await app.sync.settled();
    expect(ids(app)).not.toContain(id(4));
    expect(ids(app)).toHaveLength(10);
    expect(line(app, id(5))).toBe(kept);
    expect(listNotes).toHaveBeenCalledTimes(1);
  });

  it('keeps pinned notes first and the rest newest first', async () => {
    const { fake, app } = await start();
    fake.remote.edit(id(9), { pinned: true });
    await app.sync.settled();
    const items = app.notes.items();
    const pinned = items.filter((n) => n.pinned);
    expect(items.slice(0, pinned.length)).toEqual(pinned);
    expect(pinned.map((n) => n.id)).toEqual([id(9), id(0), id(7)]);
    const rest = items.slice(pinned.length).map((n) => n.updated_at);
    expect(rest).toEqual([...rest].sort((a, b) => b - a));
  });

  it('takes events that arrive together in one read, in order', async () => {
    const { fake, app, noteSummaries } = await start();
    fake.remote.edit(id(1), { title: 'one' });
    fake.remote.edit(id(2), { title: 'two' });
    fake.remote.edit(id(2), { title: 'two, again' });
    await app.sync.settled();
    expect(noteSummaries.mock.calls).toEqual([[[id(1)]], [[id(2)]]]);
    expect(line(app, id(1))!.title).toBe('one');
    expect(line(app, id(2))!.title).toBe('two, again');
  });

  it('an event naming nothing reads nothing, and the next one is still handled', async () => {
    const { fake, app, listNotes, noteSummaries } = await start();
    fake.remote.announce([]);
    await app.sync.settled();
    expect(noteSummaries).not.toHaveBeenCalled();
    fake.remote.edit(id(1), { title: 'after' });
    await app.sync.settled();
    expect(noteSummaries).toHaveBeenCalledWith([id(1)]);
    expect(line(app, id(1))!.title).toBe('after');
    expect(listNotes).toHaveBeenCalledTimes(1);
  });

  it('reads the whole list once when an event names more than 200 notes', async () => {
    const { fake, app, listNotes, noteSummaries } = await start(300);
    fake.remote.touchAll();
    await app.sync.settled();
    expect(listNotes).toHaveBeenCalledTimes(2);
    expect(noteSummaries).not.toHaveBeenCalled();
  });

  it('reads the whole list, and the open note, when the shell fell behind and cannot say which', async () => {
    const { fake, app, listNotes, noteSummaries, getNote } = await start();
    await app.editor.open(id(2));
    getNote.mockClear();
    fake.remote.lagged(() => {
      fake.remote.quietly(id(2), { body: 'lost event, open note' });
      fake.remote.quietly(id(6), { title: 'lost event, other note' });
    });
    await app.sync.settled();
    expect(noteSummaries).not.toHaveBeenCalled();
    expect(listNotes).toHaveBeenCalledTimes(2);
    expect(line(app, id(6))!.title).toBe('lost event, other note');
    expect(getNote).toHaveBeenCalledWith(id(2));
    expect(app.editor.current()!.note.body).toBe('lost event, open note');
  });

  it('falls back to the whole list when the lines cannot be read one by one', async () => {
    const { fake, app, listNotes, noteSummaries } = await start();
    noteSummaries.mockRejectedValueOnce(new Error('no such command'));
    fake.remote.edit(id(3), { title: 'still shown' });
    await app.sync.settled();
    expect(listNotes).toHaveBeenCalledTimes(2);
    expect(line(app, id(3))!.title).toBe('still shown');
  });

  it('keeps a title typed and not saved yet on its line', async () => {
    const { fake, app } = await start();
    app.editor.editTitle(id(2), 'typing…');
    fake.remote.edit(id(2), { body: 'new body from elsewhere' });
    await app.sync.settled();
    expect(line(app, id(2))!.title).toBe('typing…');
  });
});

describe('a sync status alone', () => {
  it('does not list the notes again, however it changes', async () => {
    const { fake, app, listNotes } = await start();
    fake.emitStatus({ phase: 'pulling' });
    fake.emitStatus({ phase: 'idle', last_success_ms: Date.now() + 1 });
    fake.emitStatus({ pending: 3 });
    fake.emitStatus({ failed: 1, pending: 2 });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(app.sync.status()).toMatchObject({ pending: 2, failed: 1 });
    expect(listNotes).toHaveBeenCalledTimes(1);
  });

  it('reads the conflicts again when their count moves', async () => {
    const { fake, listNotes, listConflicts } = await start();
    expect(listConflicts).toHaveBeenCalledTimes(1);
    fake.emitStatus({ open_conflicts: 1 });
    await vi.advanceTimersByTimeAsync(0);
    expect(listConflicts).toHaveBeenCalledTimes(2);
    expect(listNotes).toHaveBeenCalledTimes(1);
  });

  it('a server reset lists every note again (lines keep their objects), and says so once', async () => {
    const { fake, app, listNotes } = await start();
    const before = line(app, id(4));
    fake.emitStatus({ server_reset_ms: Date.now() });
    await vi.advanceTimersByTimeAsync(0);
    expect(listNotes).toHaveBeenCalledTimes(2);
    // A fresh answer from the core, reconciled by id: the unchanged line is the same object.
    expect(line(app, id(4))).toBe(before);
    expect(app.ui.toasts().filter((t) => /server lost its place/.test(t.message))).toHaveLength(1);
  });

  it('logging in to an account lists every note again', async () => {
    const { app, listNotes } = await start(10, 'local');
    const done = app.account.logIn({ serverUrl: 'https://s.example', username: 'ada', passphrase: 'correct horse battery' });
    await vi.advanceTimersByTimeAsync(500);
    await done;
    expect(app.account.info()).toMatchObject({ logged_in: true, username: 'ada' });
    expect(listNotes).toHaveBeenCalledTimes(2);
  });
});

describe('the open note on notes-changed', () => {
  async function opened() {
    const s = await start();
    await s.app.editor.open(id(2));
    s.getNote.mockClear();
    return s;
  }

  it('is not read again when the event names other notes', async () => {
    const { fake, app, getNote } = await opened();
    const cur = app.editor.current();
    fake.remote.edit(id(3), { body: 'elsewhere' });
    await app.sync.settled();
    expect(getNote).not.toHaveBeenCalled();
    expect(app.editor.current()).toBe(cur);
  });

  it('is read again when the event names it, and the editor loads the new text', async () => {
    const { fake, app, getNote } = await opened();
    const before = app.editor.current()!;
    fake.remote.edit(id(2), { body: 'pulled text' });
    await app.sync.settled();
    expect(getNote).toHaveBeenCalledTimes(1);
    expect(getNote).toHaveBeenCalledWith(id(2));
    const after = app.editor.current()!;
    expect(after.note.body).toBe('pulled text');
    expect(after.version).toBeGreaterThan(before.version);
  });

  it('a change of badge only keeps the editor as it is (same version)', async () => {
    const { fake, app } = await opened();
    const before = app.editor.current()!;
    fake.remote.edit(id(2), {});
    await app.sync.settled();
    expect(app.editor.current()!.note.updated_at).toBeGreaterThanOrEqual(before.note.updated_at);
    expect(app.editor.current()!.version).toBe(before.version);
  });

  it('does not clobber unsaved edits: the save merges them instead', async () => {
    const { fake, app, getNote } = await opened();
    const before = app.editor.current()!;
    app.editor.editBody(id(2), () => 'typed here');
    fake.remote.edit(id(2), { body: 'pulled text' });
    await app.sync.settled();
    expect(getNote).not.toHaveBeenCalled();
    expect(app.editor.current()).toBe(before);
  });
});
