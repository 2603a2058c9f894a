import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Note, NotePatch } from '../api/types';
import { Autosaver, mergePatch, resolvePatch } from './autosave';

function note(id: string, patch: NotePatch): Note {
  return {
    id,
    title: patch.title ?? '',
    body: patch.body ?? '',
    tags: [],
    pinned: patch.pinned ?? false,
    created_at: 0,
    updated_at: 1,
    hlc: 'h',
    server_rev: null,
    deleted: false,
    sync: 'pending',
  };
}

/** A fake core: records every save; each save resolves when the test says. */
function fakeCore(opts: { manual?: boolean } = {}) {
  const saves: { id: string; patch: NotePatch }[] = [];
  const waiting: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  let failNext: unknown = null;
  const save = vi.fn(async (id: string, patch: NotePatch) => {
    if (failNext) {
      const e = failNext;
      failNext = null;
      throw e;
    }
    if (opts.manual) await new Promise<void>((resolve, reject) => waiting.push({ resolve, reject }));
    saves.push({ id, patch });
    return note(id, patch);
  });
  return {
    save,
    saves,
    release: () => waiting.shift()?.resolve(),
    failOnce: (e: unknown) => (failNext = e),
  };
}

describe('Autosaver', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('saves once, 400 ms after typing stops, with the last text', async () => {
    const core = fakeCore();
    const a = new Autosaver({ save: core.save });
    a.edit('n1', { body: 'h' });
    await vi.advanceTimersByTimeAsync(300);
    a.edit('n1', { body: 'he' });
    await vi.advanceTimersByTimeAsync(300);
    a.edit('n1', { body: 'hel' });
    expect(core.save).not.toHaveBeenCalled();
    expect(a.state('n1')).toBe('dirty');
    await vi.advanceTimersByTimeAsync(399);
    expect(core.save).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(core.saves).toEqual([{ id: 'n1', patch: { body: 'hel' } }]);
    expect(a.state('n1')).toBe('saved');
    expect(a.hasUnsaved()).toBe(false);
  });

  it('merges title and body edits into one patch', async () => {
    const core = fakeCore();
    const a = new Autosaver({ save: core.save });
    a.edit('n1', { title: 'T' });
    a.edit('n1', { body: 'B' });
    a.edit('n1', { title: 'Title' });
    await a.flush('n1');
    expect(core.saves).toEqual([{ id: 'n1', patch: { title: 'Title', body: 'B' } }]);
  });

  it('flushes at once on note switch, without waiting for the debounce', async () => {
    const core = fakeCore();
    const a = new Autosaver({ save: core.save });
    a.edit('n1', { body: 'draft' });
    await a.flush('n1');
    expect(core.saves).toEqual([{ id: 'n1', patch: { body: 'draft' } }]);
    // The cancelled timer does not save again.
    await vi.advanceTimersByTimeAsync(1000);
    expect(core.save).toHaveBeenCalledTimes(1);
  });

  it('flush() with no id saves every note (window close)', async () => {
    const core = fakeCore();
    const a = new Autosaver({ save: core.save });
    a.edit('n1', { body: 'one' });
    a.edit('n2', { body: 'two' });
    await a.flush();
    expect(core.saves.map((s) => s.id).sort()).toEqual(['n1', 'n2']);
  });

  it('keeps keystrokes typed while a save is in flight and sends them next', async () => {
    const core = fakeCore({ manual: true });
    const a = new Autosaver({ save: core.save });
    a.edit('n1', { body: 'a' });
    const f1 = a.flush('n1');
    await vi.advanceTimersByTimeAsync(0);
    expect(a.state('n1')).toBe('saving');
    a.edit('n1', { body: 'ab' });
    // A flush (note switch) while the first save is in flight waits for it, then sends 'ab'.
    const f2 = a.flush('n1');
    core.release();
    await f1;
    await vi.advanceTimersByTimeAsync(0);
    expect(a.state('n1')).toBe('saving');
    core.release();
    await f2;
    expect(core.saves.map((s) => s.patch.body)).toEqual(['a', 'ab']);
    expect(a.state('n1')).toBe('saved');
    expect(a.hasUnsaved()).toBe(false);
  });

  it('never drops an edit when a save fails: the patch waits under newer edits', async () => {
    const core = fakeCore();
    const errors: unknown[] = [];
    const a = new Autosaver({ save: core.save, onError: (_id, e) => errors.push(e) });
    a.edit('n1', { title: 'kept', body: 'first' });
    core.failOnce({ code: 'too_large', message: 'too big' });
    await a.flush('n1');
    expect(errors).toHaveLength(1);
    expect(a.state('n1')).toBe('error');
    expect(a.pendingPatch('n1')).toEqual({ title: 'kept', body: 'first' });
    a.edit('n1', { body: 'second' });
    await vi.advanceTimersByTimeAsync(400);
    expect(core.saves).toEqual([{ id: 'n1', patch: { title: 'kept', body: 'second' } }]);
    expect(a.state('n1')).toBe('saved');
  });

  it('reads a lazy body at save time, not at each keystroke', async () => {
    const core = fakeCore();
    const a = new Autosaver({ save: core.save });
    const read = vi.fn(() => 'big text');
    a.edit('n1', { body: read });
    a.edit('n1', { body: read });
    expect(read).not.toHaveBeenCalled();
    await a.flush('n1');
    expect(read).toHaveBeenCalledTimes(1);
    expect(core.saves[0]!.patch).toEqual({ body: 'big text' });
  });

  it('a save in flight with no flush waiting leaves the rest to the debounce', async () => {
    const core = fakeCore({ manual: true });
    const a = new Autosaver({ save: core.save });
    a.edit('n1', { body: 'a' });
    const f1 = a.flush('n1');
    await vi.advanceTimersByTimeAsync(0);
    a.edit('n1', { body: 'ab' });
    core.release();
    await f1;
    expect(a.state('n1')).toBe('dirty');
    expect(a.hasUnsaved()).toBe(true);
    await vi.advanceTimersByTimeAsync(400);
    core.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(core.saves.map((s) => s.patch.body)).toEqual(['a', 'ab']);
    expect(a.state('n1')).toBe('saved');
  });

  it('reports states in order', async () => {
    const core = fakeCore();
    const states: string[] = [];
    const a = new Autosaver({ save: core.save, onState: (_id, s) => states.push(s) });
    a.edit('n1', { body: 'x' });
    await a.flush('n1');
    expect(states).toEqual(['dirty', 'saving', 'saved']);
  });

  it('passes saved notes to onSaved', async () => {
    const core = fakeCore();
    const saved: Note[] = [];
    const a = new Autosaver({ save: core.save, onSaved: (n) => saved.push(n) });
    a.edit('n1', { title: 'Hi' });
    await a.flush('n1');
    expect(saved[0]!.title).toBe('Hi');
  });

  it('a custom delay is honoured', async () => {
    const core = fakeCore();
    const a = new Autosaver({ save: core.save, delayMs: 50 });
    a.edit('n1', { body: 'x' });
    await vi.advanceTimersByTimeAsync(50);
    expect(core.save).toHaveBeenCalledTimes(1);
  });
});

describe('patches', () => {
  it('later fields win', () => {
    expect(mergePatch({ title: 'a', body: 'b' }, { body: 'c' })).toEqual({ title: 'a', body: 'c' });
    expect(mergePatch(null, { pinned: true })).toEqual({ pinned: true });
  });
  it('resolves lazy bodies', () => {
    expect(resolvePatch({ body: () => 'x', pinned: true })).toEqual({ body: 'x', pinned: true });
    expect(resolvePatch({ title: 't' })).toEqual({ title: 't' });
  });
});
