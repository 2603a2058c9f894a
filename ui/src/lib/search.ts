// The notes list: what to show for a query, in what order, and which answer
// is current when several searches are in flight.
import type { NoteSummary, SearchHit } from '../api/types';

export type ListItem = NoteSummary & Partial<Pick<SearchHit, 'snippet' | 'title_highlights' | 'snippet_highlights'>>;

/** `text` cut at the highlighted ranges (UTF-16 `[start, end)`, as the core gives them); bad ranges are ignored. */
export function highlightParts(text: string, ranges: readonly [number, number][] | undefined): { text: string; mark: boolean }[] {
  const out: { text: string; mark: boolean }[] = [];
  let at = 0;
  for (const [start, end] of [...(ranges ?? [])].sort((a, b) => a[0] - b[0])) {
    if (start < at || end <= start || end > text.length) continue;
    if (start > at) out.push({ text: text.slice(at, start), mark: false });
    out.push({ text: text.slice(start, end), mark: true });
    at = end;
  }
  if (at < text.length || out.length === 0) out.push({ text: text.slice(at), mark: false });
  return out;
}

/** How the list is ordered (pinned notes always first). */
export type SortKey = 'updated' | 'created' | 'title';

export type Compare = (a: NoteSummary, b: NoteSummary) => number;

const collator = new Intl.Collator(undefined, { sensitivity: 'base', numeric: true });

export const BY_UPDATED: Compare = (a, b) => b.updated_at - a.updated_at;

/**
 * The order for `key`: last edited first, made last first (`created` by
 * note id; a note it lacks counts as made when last edited), or by title
 * A to Z with untitled notes last.
 */
export function compareBy(key: SortKey, created?: ReadonlyMap<string, number>): Compare {
  switch (key) {
    case 'updated':
      return BY_UPDATED;
    case 'created':
      return (a, b) => (created?.get(b.id) ?? b.updated_at) - (created?.get(a.id) ?? a.updated_at);
    case 'title':
      return (a, b) => {
        const ta = a.title.trim();
        const tb = b.title.trim();
        return Number(!ta) - Number(!tb) || collator.compare(ta, tb) || BY_UPDATED(a, b);
      };
  }
}

/** Pinned first; then by `order` (newest first by default). Stable for equal keys. */
export function sortNotes<T extends NoteSummary>(notes: readonly T[], order: Compare = BY_UPDATED): T[] {
  return notes
    .map((n, i) => ({ n, i }))
    .sort((a, b) => Number(b.n.pinned) - Number(a.n.pinned) || order(a.n, b.n) || a.i - b.i)
    .map((x) => x.n);
}

/** How many lines at the top are pinned (the list's Pinned section); none while searching. */
export function pinnedCount(items: readonly NoteSummary[], query: string): number {
  if (query.trim()) return 0;
  let n = 0;
  while (n < items.length && items[n]!.pinned) n++;
  return n;
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
export function upsertSummary(list: readonly ListItem[], note: NoteSummary, query: string, order: Compare = BY_UPDATED): ListItem[] {
  const s = toSummary(note);
  const i = list.findIndex((n) => n.id === s.id);
  if (i >= 0) {
    const next = list.slice();
    next[i] = { ...list[i], ...s };
    return query.trim() ? next : sortNotes(next, order);
  }
  // A note created while searching shows only once the search includes it.
  return query.trim() ? list.slice() : sortNotes([s, ...list], order);
}

export function removeSummary(list: readonly ListItem[], id: string): ListItem[] {
  return list.filter((n) => n.id !== id);
}

/**
 * The list after a sync changed some notes. `asked` are the ids it named,
 * `found` the lines the core has for them now: an asked id that is not
 * found was deleted (or is gone), so its line goes. While a search shows,
 * lines keep the core's relevance order and a note that is not a hit yet
 * waits for the next search, as a new note does.
 */
export function applyChanges(
  list: readonly ListItem[],
  asked: readonly string[],
  found: readonly NoteSummary[],
  query: string,
  order: Compare = BY_UPDATED,
): ListItem[] {
  const fresh = new Map(found.map((n) => [n.id, toSummary(n)]));
  const gone = new Set(asked.filter((id) => !fresh.has(id)));
  const next: ListItem[] = [];
  for (const item of list) {
    if (gone.has(item.id)) continue;
    const s = fresh.get(item.id);
    if (!s) {
      next.push(item);
      continue;
    }
    next.push({ ...item, ...s });
    fresh.delete(item.id);
  }
  if (query.trim()) return next;
  return sortNotes([...fresh.values(), ...next], order);
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
  private running: Promise<void> | null = null;
  query = '';

  constructor(
    private readonly source: SearchSource,
    private readonly deliver: (r: SearchResult) => void,
    private readonly onError: (e: unknown) => void = () => undefined,
    private readonly delayMs = 120,
    /** The list's order when no query is typed. */
    private readonly order: () => Compare = () => BY_UPDATED,
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

  /** Run the current query now (start-up, a full reload). */
  run(): Promise<void> {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const p = this.load(++this.seq);
    this.running = p;
    void p.finally(() => {
      if (this.running === p) this.running = null;
    });
    return p;
  }

  /**
   * Resolves once no answer is on its way. A list read before a change may
   * arrive after it: whoever patches the list for that change waits here
   * first, so the older answer cannot overwrite the patch.
   */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  dispose(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.seq++;
  }

  private async load(my: number): Promise<void> {
    const q = this.query.trim();
    try {
      const items: ListItem[] = q ? orderHits(await this.source.searchNotes(q)) : sortNotes(await this.source.listNotes(), this.order());
      if (my === this.seq) this.deliver({ query: this.query, items });
    } catch (e) {
      if (my === this.seq) this.onError(e);
    }
  }
}
