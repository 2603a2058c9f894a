import { describe, expect, it } from 'vitest';
import { SavedValue } from './saved';

type Call = { value: number; ok: () => void; fail: (e: unknown) => void };

/** A core whose writes are answered by hand, in any order the test likes. */
function harness(initial: number) {
  const shown: number[] = [];
  const errors: unknown[] = [];
  const calls: Call[] = [];
  const waiting: ((c: Call) => void)[] = [];
  const saved = new SavedValue<number>({
    save: (value) =>
      new Promise<void>((ok, fail) => {
        const c = { value, ok, fail };
        calls.push(c);
        waiting.shift()?.(c);
      }),
    show: (v) => shown.push(v),
    failed: (e) => errors.push(e),
  });
  saved.known(initial);
  /** The write numbered `i` (from 0), once the queue has made it. */
  const call = (i: number) =>
    calls[i] ? Promise.resolve(calls[i]) : new Promise<Call>((r) => waiting.push(r)).then(() => calls[i]!);
  return { saved, shown, errors, calls, call };
}

describe('SavedValue', () => {
  it('shows a change at once and writes it', async () => {
    const { saved, shown, call } = harness(1);
    const done = saved.set(2);
    expect(shown).toEqual([2]);
    const c = await call(0);
    expect(c.value).toBe(2);
    c.ok();
    expect(await done).toBe(true);
  });

  it('writes one at a time, in order: the second waits for the first', async () => {
    const { saved, calls, call } = harness(1);
    const a = saved.set(2);
    const b = saved.set(3);
    const first = await call(0);
    expect(calls.map((c) => c.value)).toEqual([2]);
    first.ok();
    await a;
    const second = await call(1);
    expect(second.value).toBe(3);
    second.ok();
    expect(await b).toBe(true);
  });

  it('a refused write says so and puts back what the core last accepted', async () => {
    const { saved, shown, errors, call } = harness(1);
    const a = saved.set(2);
    (await call(0)).ok();
    await a;
    const b = saved.set(3);
    (await call(1)).fail(new Error('disk full'));
    expect(await b).toBe(false);
    expect(errors).toHaveLength(1);
    expect(shown).toEqual([2, 3, 2]);
  });

  it('a refused write followed by another change leaves that change on screen', async () => {
    const { saved, shown, call } = harness(1);
    const a = saved.set(2);
    const b = saved.set(3);
    (await call(0)).fail(new Error('busy'));
    expect(await a).toBe(false);
    // 3 is on its way: putting 1 back now would flicker, and 3 is what the user chose last.
    expect(shown).toEqual([2, 3]);
    (await call(1)).ok();
    expect(await b).toBe(true);
    await saved.settled();
    expect(shown).toEqual([2, 3]);
  });
});
