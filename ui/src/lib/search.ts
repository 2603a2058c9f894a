// The notes list: what to show for a query, in what order, and which answer
// is current when several searches are in flight.
import type { NoteSummary, SearchHit } from '../api/types';

export type ListItem = NoteSummary & { snippet?: string };

/** Pinned first; then newest first. Stable for equal keys. */
export function sortNotes<T extends NoteSummary>(notes: readonly T[]): T[] {
  return notes
    .map((n, i) => ({ n, i }))
    .sort((a, b) => Number(b.n.pinned) - Number(a.n.pinned) || b.n.updated_at - a.n.updated_at || a.i - b.i)
    .map((x) => x.n);
}

/** Search hits keep the core's relevance order, pinned ones first. */
export function orderHits(hits: readonly SearchHit[]): SearchHit[] {
  return hits
    .map((n, i) => ({ n, i }))
    .sort((a, b) => Number(b.n.pinned) - Number(a.n.pinned) || a.i - b.i)
    .map((x) => x.n);
}

/** The list line of a note (drops the body: a Note may hold a megabyte of text). */
export function toSummary(n: NoteSummary): NoteSummary {
  return { id: n.id, title: n.title, pinned: n.pinned, updated_at: n.updated_at, sync: n.sync };
}

/** Put a changed note's line in the list (or add it), keeping the order rules. */
export function upsertSummary(list: readonly ListItem[], note: NoteSummary, query: string): ListItem[] {
  const s = toSummary(note);
  const i = list.findIndex((n) => n.id === s.id);
  if (i >= 0) {
    const next = list.slice();
    next[i] = { ...list[i], ...s };
    return query.trim() ? next : sortNotes(next);
  }
  // A note created while searching shows only once the search includes it.
  return query.trim() ? list.slice() : sortNotes([s, ...list]);
}

export function removeSummary(list: readonly ListItem[], id: string): ListItem[] {
  return list.filter((n) => n.id !== id);
}

export interface SearchSource {
  listNotes(): Promise<NoteSummary[]>;
  searchNotes(query: string): Promise<SearchHit[]>;
}

export interface SearchResult {
  query: string;
  items: ListItem[];
}

/**
 * Runs searches as the user types: waits `delayMs` after the last key, and
 * only the newest query's answer is delivered (an older one that arrives
 * late is dropped). An empty query lists every note.
 */
export class SearchController {
  private seq = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  query = '';

  constructor(
    private readonly source: SearchSource,
    private readonly deliver: (r: SearchResult) => void,
    private readonly onError: (e: unknown) => void = () => undefined,
    private readonly delayMs = 120,
  ) {}

  /** The user typed: search after a short pause. */
  setQuery(q: string): void {
    this.query = q;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run();
    }, q.trim() ? this.delayMs : 0);
  }

  /** Run the current query now (start-up, refresh after a sync). */
  async run(): Promise<void> {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const my = ++this.seq;
    const q = this.query.trim();
    try {
      const items: ListItem[] = q ? orderHits(await this.source.searchNotes(q)) : sortNotes(await this.source.listNotes());
      if (my === this.seq) this.deliver({ query: this.query, items });
    } catch (e) {
      if (my === this.seq) this.onError(e);
    }
  }

  dispose(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.seq++;
  }
}
