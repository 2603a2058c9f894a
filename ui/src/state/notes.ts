// The notes list: one store of list lines, kept by note id, so a reload or
// a sync's patch changes only the lines that differ and the rest keep their
// identity (their rows are not drawn again).
import { batch, createSignal } from 'solid-js';
import { createStore, reconcile, unwrap } from 'solid-js/store';
import type { Api, NoteSummary } from '../api/types';
import { applyChanges, type ListItem, removeSummary, SearchController, upsertSummary } from '../lib/search';
import type { UiState } from './ui';

export type NotesState = ReturnType<typeof createNotes>;

export function createNotes(api: Api, ui: UiState) {
  const [list, setList] = createStore<{ items: ListItem[] }>({ items: [] });
  const [loading, setLoading] = createSignal(true);
  const [query, setQueryValue] = createSignal('');
  // The query the shown lines answer (the typed one may be ahead of it).
  const [resultQuery, setResultQuery] = createSignal('');

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
  );

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
    edit((items) => applyChanges(items, asked, found, resultQuery()));
  }

  return {
    /** The lines, in order (a store: read fields, never replace them). */
    items: (): readonly ListItem[] => list.items,
    loading,
    query,
    resultQuery,
    setQuery,
    /** Read the whole list (or the current search) again. */
    reload: (): Promise<void> => search.run(),
    patch,
    /** A saved note's line, placed where it now sorts. */
    upsert: (note: NoteSummary, q = resultQuery()) => edit((items) => upsertSummary(items, note, q)),
    remove: (id: string) => edit((items) => removeSummary(items, id)),
    /** The title as typed, before it is saved. */
    retitle: (id: string, title: string) => setList('items', (n) => n.id === id, 'title', title),
    has: (id: string) => list.items.some((n) => n.id === id),
    dispose: () => search.dispose(),
  };
}
