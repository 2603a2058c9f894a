// The notes list: one store of list lines, kept by note id, so a reload or
// a sync's patch changes only the lines that differ and the rest keep their
// identity (their rows are not drawn again).
import { batch, createSignal } from 'solid-js';
import { createStore, reconcile, unwrap } from 'solid-js/store';
import type { Api, NoteSummary } from '../api/types';
import { applyChanges, compareBy, type ListItem, removeSummary, SearchController, type SortKey, sortNotes, upsertSummary } from '../lib/search';
import { loadSort, saveSort } from './persist';
import type { UiState } from './ui';

export type NotesState = ReturnType<typeof createNotes>;

export function createNotes(api: Api, ui: UiState) {
  const [list, setList] = createStore<{ items: ListItem[] }>({ items: [] });
  const [loading, setLoading] = createSignal(true);
  const [query, setQueryValue] = createSignal('');
  // The query the shown lines answer (the typed one may be ahead of it).
  const [resultQuery, setResultQuery] = createSignal('');
  const [sort, setSortKey] = createSignal<SortKey>(loadSort());
  // When each note was made, read only while the list is sorted by it.
  const created = new Map<string, number>();
  const order = () => compareBy(sort(), created);

  async function loadCreated(): Promise<void> {
    const times = await api.noteCreatedTimes();
    created.clear();
    for (const t of times) created.set(t.id, t.created_at);
  }

  function put(items: ListItem[]): void {
    setList('items', reconcile(items, { key: 'id' }));
  }

  /** Change the list as plain data; the store takes only the differences. */
  function edit(f: (items: readonly ListItem[]) => ListItem[]): void {
    put(f(unwrap(list.items)));
  }

  const search = new SearchController(
    api,
    (r) =>
      batch(() => {
        put(r.items);
        setResultQuery(r.query);
        setLoading(false);
      }),
    (e) => {
      setLoading(false);
      ui.toastError(e);
    },
    120,
    order,
  );

  /** Order the list by `key` (pinned notes stay on top); kept across restarts. */
  async function setSort(key: SortKey): Promise<void> {
    saveSort(key);
    if (key === 'created') {
      try {
        await loadCreated();
      } catch (e) {
        ui.toastError(e);
      }
    }
    setSortKey(key);
    await search.settled();
    if (!resultQuery().trim()) edit((items) => sortNotes(items, order()));
  }

  async function reload(): Promise<void> {
    if (sort() === 'created') await loadCreated().catch((e) => ui.toastError(e));
    return search.run();
  }

  function setQuery(q: string): void {
    setQueryValue(q);
    search.setQuery(q);
  }

  /**
   * Sync changed these notes: `found` are the lines the core has for
   * `asked` now. A full list read before the change may still be on its
   * way; it lands first, so it cannot undo this.
   */
  async function patch(asked: readonly string[], found: readonly NoteSummary[]): Promise<void> {
    await search.settled();
    edit((items) => applyChanges(items, asked, found, resultQuery(), order()));
  }

  return {
    /** The lines, in order (a store: read fields, never replace them). */
    items: (): readonly ListItem[] => list.items,
    loading,
    query,
    resultQuery,
    setQuery,
    /** Read the whole list (or the current search) again. */
    reload,
    sort,
    setSort,
    patch,
    /** A saved note's line, placed where it now sorts. */
    upsert: (note: NoteSummary & { created_at?: number }, q = resultQuery()) => {
      if (note.created_at !== undefined) created.set(note.id, note.created_at);
      edit((items) => upsertSummary(items, note, q, order()));
    },
    remove: (id: string) => edit((items) => removeSummary(items, id)),
    /** The title as typed, before it is saved. */
    retitle: (id: string, title: string) => setList('items', (n) => n.id === id, 'title', title),
    has: (id: string) => list.items.some((n) => n.id === id),
    dispose: () => search.dispose(),
  };
}
