import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { NoteSummary, SearchHit } from '../api/types';
import { applyChanges, orderHits, removeSummary, SearchController, type SearchResult, sortNotes, upsertSummary } from './search';

const n = (id: string, updated_at: number, pinned = false): NoteSummary => ({
  id,
  title: id,
  pinned,
  updated_at,
  sync: 'synced',
});

describe('ordering', () => {
  it('pinned first, then newest first', () => {
    const out = sortNotes([n('old', 1), n('pin-old', 2, true), n('new', 9), n('pin-new', 5, true)]);
    expect(out.map((x) => x.id)).toEqual(['pin-new', 'pin-old', 'new', 'old']);
  });

  it('search hits keep relevance order, pinned first', () => {
    const hits: SearchHit[] = [
      { ...n('a', 1), snippet: '' },
      { ...n('b', 9, true), snippet: '' },
      { ...n('c', 5), snippet: '' },
    ];
    expect(orderHits(hits).map((x) => x.id)).toEqual(['b', 'a', 'c']);
  });

  it('upsert moves an edited note up and adds a new one', () => {
    const list = sortNotes([n('a', 3), n('b', 2), n('c', 1)]);
    expect(upsertSummary(list, n('c', 10), '').map((x) => x.id)).toEqual(['c', 'a', 'b']);
    expect(upsertSummary(list, n('d', 0), '').map((x) => x.id)).toEqual(['a', 'b', 'c', 'd']);
    // While searching, the order of hits stays and new notes wait for the search.
    expect(upsertSummary(list, n('c', 10), 'x').map((x) => x.id)).toEqual(['a', 'b', 'c']);
    expect(upsertSummary(list, n('d', 10), 'x')).toHaveLength(3);
    expect(removeSummary(list, 'b').map((x) => x.id)).toEqual(['a', 'c']);
  });

  it('keeps no note body in the list', () => {
    const full = { ...n('a', 5), body: 'x'.repeat(1000), tags: [] } as NoteSummary;
    expect(Object.keys(upsertSummary([], full, '')[0]!).sort()).toEqual(['id', 'pinned', 'sync', 'title', 'updated_at']);
  });
});

describe('applyChanges (a sync changed some notes)', () => {
  const list = sortNotes([n('pin', 1, true), n('a', 30), n('b', 20), n('c', 10)]);
  const ids = (l: readonly { id: string }[]) => l.map((x) => x.id);

  it('updates a line in place when its order does not change', () => {
    const out = applyChanges(list, ['b'], [{ ...n('b', 20), title: 'B!', sync: 'pending' }], '');
    expect(ids(out)).toEqual(['pin', 'a', 'b', 'c']);
    expect(out[2]).toMatchObject({ title: 'B!', sync: 'pending' });
    // Lines the event did not name are the same objects.
    expect(out[1]).toBe(list[1]);
  });

  it('moves a newer note up, and a newly pinned one to the top', () => {
    expect(ids(applyChanges(list, ['c'], [n('c', 99)], ''))).toEqual(['pin', 'c', 'a', 'b']);
    expect(ids(applyChanges(list, ['c'], [n('c', 10, true)], ''))).toEqual(['c', 'pin', 'a', 'b']);
    expect(ids(applyChanges(list, ['pin'], [n('pin', 1)], ''))).toEqual(['a', 'b', 'c', 'pin']);
  });

  it('inserts a pulled note where it sorts', () => {
    expect(ids(applyChanges(list, ['d'], [n('d', 25)], ''))).toEqual(['pin', 'a', 'd', 'b', 'c']);
    expect(ids(applyChanges(list, ['e'], [n('e', 0, true)], ''))).toEqual(['pin', 'e', 'a', 'b', 'c']);
  });

  it('drops the notes named but not found (deleted), and ignores unknown ones', () => {
    expect(ids(applyChanges(list, ['a', 'zz'], [], ''))).toEqual(['pin', 'b', 'c']);
  });

  it('does all of it at once', () => {
    const out = applyChanges(list, ['a', 'c', 'd'], [n('c', 50), n('d', 40)], '');
    expect(ids(out)).toEqual(['pin', 'c', 'd', 'b']);
  });

  it('while searching: lines keep their place and snippet, new notes wait for the search', () => {
    const hits = [{ ...n('c', 10), snippet: '…c…' }, { ...n('a', 30), snippet: '…a…' }];
    const out = applyChanges(hits, ['c', 'a', 'd'], [{ ...n('c', 99), title: 'C!' }, n('d', 5)], 'x');
    expect(ids(out)).toEqual(['c']);
    expect(out[0]).toMatchObject({ title: 'C!', updated_at: 99, snippet: '…c…' });
  });

  it('keeps no note body in the list', () => {
    const full = { ...n('d', 5), body: 'x'.repeat(1000), tags: [] } as NoteSummary;
    const out = applyChanges([], ['d'], [full], '');
    expect(Object.keys(out[0]!).sort()).toEqual(['id', 'pinned', 'sync', 'title', 'updated_at']);
  });
});

describe('SearchController', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function setup(delays: Record<string, number> = {}) {
    const all = [n('apple pie', 1), n('banana bread', 2), n('apple tart', 3, true)];
    const source = {
      listNotes: vi.fn(async () => all),
      searchNotes: vi.fn(async (q: string) => {
        await new Promise((r) => setTimeout(r, delays[q] ?? 0));
        return all.filter((x) => x.title.includes(q)).map((x) => ({ ...x, snippet: `…${q}…` }));
      }),
    };
    const got: SearchResult[] = [];
    const c = new SearchController(source, (r) => got.push(r), undefined, 120);
    return { source, got, c };
  }

  it('filters as you type, after a short pause', async () => {
    const { source, got, c } = setup();
    c.setQuery('a');
    c.setQuery('ap');
    c.setQuery('app');
    await vi.advanceTimersByTimeAsync(119);
    expect(source.searchNotes).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(source.searchNotes).toHaveBeenCalledTimes(1);
    expect(source.searchNotes).toHaveBeenCalledWith('app');
    await vi.advanceTimersByTimeAsync(1);
    expect(got.at(-1)!.items.map((x) => x.id)).toEqual(['apple tart', 'apple pie']);
  });

  it('an empty query lists every note at once, pinned first', async () => {
    const { source, got, c } = setup();
    c.setQuery('   ');
    await vi.advanceTimersByTimeAsync(0);
    expect(source.listNotes).toHaveBeenCalled();
    expect(got.at(-1)!.items.map((x) => x.id)).toEqual(['apple tart', 'banana bread', 'apple pie']);
  });

  it('drops a slow answer to an older query', async () => {
    const { got, c } = setup({ apple: 500, banana: 10 });
    c.query = 'apple';
    const slow = c.run();
    c.query = 'banana';
    const fast = c.run();
    await vi.advanceTimersByTimeAsync(600);
    await Promise.all([slow, fast]);
    expect(got).toHaveLength(1);
    expect(got[0]!.query).toBe('banana');
  });

  it('settles once the answers on their way have arrived', async () => {
    const { got, c } = setup({ apple: 500 });
    c.query = 'apple';
    void c.run();
    let settled = false;
    void c.settled().then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(499);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(settled).toBe(true);
    expect(got).toHaveLength(1);
  });

  it('reports errors of the current query only', async () => {
    const onError = vi.fn();
    const source = { listNotes: vi.fn(async () => Promise.reject(new Error('boom'))), searchNotes: vi.fn() };
    const c = new SearchController(source, () => undefined, onError);
    await c.run();
    expect(onError).toHaveBeenCalledTimes(1);
  });
});
