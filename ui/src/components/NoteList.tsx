import { createEffect, createMemo, createSignal, For, on, onCleanup, Show } from 'solid-js';
import { NOTE_DRAG_TYPE } from '../api/notebooks';
import { highlightParts, type ListItem, pinnedCount, type SortKey } from '../lib/search';
import { relativeTime } from '../lib/time';
import { moveIndex, scrollToReveal, visibleWindow } from '../lib/virtual';
import { Badge } from './Badge';
import { IconPin } from './icons';

/** Fixed row height (px): the windowing maths depends on it; CSS uses the same value. */
export const ROW_HEIGHT = 58;
/** Height (px) of a section heading (Pinned, Notes); CSS uses the same value. */
export const HEADING_HEIGHT = 28;

export const SORTS: { value: SortKey; label: string }[] = [
  { value: 'updated', label: 'Last edited' },
  { value: 'created', label: 'Date created' },
  { value: 'title', label: 'Title' },
];

export interface NoteListProps {
  items: readonly ListItem[];
  selectedId: string | null;
  now: number;
  loading: boolean;
  query: string;
  onOpen: (id: string) => void;
  onNew: () => void;
  newKeys: string;
  sort: SortKey;
  onSort: (key: SortKey) => void;
}

export function NoteList(props: NoteListProps) {
  let scroller: HTMLDivElement | undefined;
  const [scrollTop, setScrollTop] = createSignal(0);
  const [height, setHeight] = createSignal(600);
  // The row keyboard focus is on (may differ from the open note until Enter).
  const [cursor, setCursor] = createSignal(-1);

  // The scroller exists only while there are rows: observe it when it appears.
  const attach = (el: HTMLDivElement) => {
    scroller = el;
    queueMicrotask(() => setHeight(el.clientHeight || 600));
    if (typeof ResizeObserver !== 'undefined') {
      const ro = new ResizeObserver(() => setHeight(el.clientHeight));
      ro.observe(el);
      onCleanup(() => ro.disconnect());
    }
  };

  // Pinned notes are a section of their own at the top (not while searching).
  const pinned = createMemo(() => pinnedCount(props.items, props.query));
  const hasOthers = () => pinned() > 0 && pinned() < props.items.length;
  /** Where row `i` starts below the plain grid: the headings above it. */
  const offset = (i: number) => (pinned() === 0 ? 0 : i < pinned() ? HEADING_HEIGHT : 2 * HEADING_HEIGHT);
  const headings = () => (pinned() === 0 ? 0 : hasOthers() ? 2 : 1) * HEADING_HEIGHT;
  // The headings shift rows by at most two heading heights: the window's
  // overscan covers that.
  const win = createMemo(() => visibleWindow(props.items.length, ROW_HEIGHT, Math.max(0, scrollTop() - headings()), height()));
  // The items themselves, not copies: <For> keeps a row for as long as its
  // item is the same object, and the list store keeps an item's object
  // across reloads and patches, so only new rows are drawn and a changed
  // one updates in place.
  const visible = createMemo(() => {
    const w = win();
    return props.items.slice(w.start, w.end);
  });

  const activeIndex = createMemo(() => {
    const c = cursor();
    if (c >= 0 && c < props.items.length) return c;
    return props.items.findIndex((n) => n.id === props.selectedId);
  });

  function reveal(i: number) {
    if (!scroller || i < 0) return;
    // The first row of a section brings its heading into view with it.
    const heading = pinned() > 0 && (i === 0 || i === pinned()) ? HEADING_HEIGHT : 0;
    const top = scrollToReveal(0, ROW_HEIGHT + heading, scroller.scrollTop - (i * ROW_HEIGHT + offset(i) - heading), scroller.clientHeight);
    if (top !== null) {
      const abs = top + i * ROW_HEIGHT + offset(i) - heading;
      scroller.scrollTop = abs;
      setScrollTop(abs);
    }
  }

  // A note opened from elsewhere (new note, conflict, search) comes into view.
  createEffect(
    on(
      () => props.selectedId,
      (id) => {
        if (id) reveal(props.items.findIndex((n) => n.id === id));
      },
      { defer: true },
    ),
  );
  // A new search starts at the top.
  createEffect(
    on(
      () => props.query,
      () => {
        setCursor(-1);
        if (scroller) scroller.scrollTop = 0;
        setScrollTop(0);
      },
      { defer: true },
    ),
  );

  function onKeyDown(e: KeyboardEvent) {
    if (e.key === 'Enter' || e.key === ' ') {
      const i = activeIndex();
      const it = props.items[i];
      if (it) {
        e.preventDefault();
        props.onOpen(it.id);
      }
      return;
    }
    const next = moveIndex(activeIndex(), e.key, props.items.length, Math.floor((scroller?.clientHeight ?? 0) / ROW_HEIGHT) - 1);
    if (next === null) return;
    e.preventDefault();
    setCursor(next);
    reveal(next);
    // Arrow keys open as they go, like a mail or notes app.
    const it = props.items[next];
    if (it) props.onOpen(it.id);
  }

  const activeId = () => {
    const it = props.items[activeIndex()];
    return it ? `note-row-${it.id}` : undefined;
  };

  return (
    <div class="note-list-wrap">
      <div class="list-tools">
        <label class="list-sort">
          <span class="muted small">Sort by</span>
          <select
            data-testid="sort-select"
            aria-label="Sort notes by"
            value={props.sort}
            onChange={(e) => props.onSort(e.currentTarget.value as SortKey)}
          >
            <For each={SORTS}>{(o) => <option value={o.value}>{o.label}</option>}</For>
          </select>
        </label>
      </div>
      <Show when={!props.loading || props.items.length > 0} fallback={<ListSkeleton />}>
        <Show
          when={props.items.length > 0}
          fallback={
            <div class="list-empty" data-testid="list-empty">
              <Show
                when={props.query.trim()}
                fallback={
                  <>
                    <p class="list-empty-title">No notes yet</p>
                    <p>
                      Press <kbd>{props.newKeys}</kbd> to write one.
                    </p>
                    <button type="button" class="btn btn-primary btn-sm" onClick={() => props.onNew()}>
                      New note
                    </button>
                  </>
                }
              >
                <p class="list-empty-title">No matches</p>
                <p>Nothing matches “{props.query.trim()}”.</p>
              </Show>
            </div>
          }
        >
          <div
            ref={attach}
            class="note-list"
            role="listbox"
            aria-label={props.query.trim() ? `Search results, ${props.items.length}` : `Notes, ${props.items.length}`}
            tabindex="0"
            aria-activedescendant={activeId()}
            data-testid="note-list"
            data-count={props.items.length}
            onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
            onKeyDown={onKeyDown}
            onFocus={() => setCursor(-1)}
          >
            <div class="note-list-spacer" style={{ height: `${win().totalHeight + headings()}px` }}>
              <Show when={pinned() > 0}>
                <div class="list-heading" data-testid="list-heading-pinned" aria-hidden="true">
                  Pinned
                </div>
              </Show>
              <Show when={hasOthers()}>
                <div
                  class="list-heading"
                  data-testid="list-heading-notes"
                  aria-hidden="true"
                  style={{ transform: `translateY(${HEADING_HEIGHT + pinned() * ROW_HEIGHT}px)` }}
                >
                  Notes
                </div>
              </Show>
              <For each={visible()}>
                {(item, i) => {
                  const index = () => win().start + i();
                  return (
                    <div
                      id={`note-row-${item.id}`}
                      class="note-row"
                      classList={{
                        selected: item.id === props.selectedId,
                        active: index() === activeIndex(),
                      }}
                      role="option"
                      aria-selected={item.id === props.selectedId}
                      aria-setsize={props.items.length}
                      aria-posinset={index() + 1}
                      data-testid="note-item"
                      data-note-id={item.id}
                      data-sync={item.sync}
                      style={{ transform: `translateY(${index() * ROW_HEIGHT + offset(index())}px)` }}
                      draggable={true}
                      onDragStart={(e) => e.dataTransfer?.setData(NOTE_DRAG_TYPE, item.id)}
                      onClick={() => {
                        setCursor(index());
                        props.onOpen(item.id);
                      }}
                    >
                      <div class="note-row-top">
                        <Show when={item.pinned}>
                          <span class="pin" title="Pinned">
                            <IconPin filled />
                            <span class="sr-only">Pinned</span>
                          </span>
                        </Show>
                        <span class="note-row-title" classList={{ untitled: !item.title.trim() }} data-testid="note-item-title">
                          <Show when={item.title.trim()} fallback="Untitled">
                            <Marked text={item.title} ranges={item.title_highlights} />
                          </Show>
                        </span>
                        <Badge sync={item.sync} />
                      </div>
                      <div class="note-row-meta">
                        <time>{relativeTime(item.updated_at, props.now)}</time>
                        <Show when={item.snippet}>
                          <span class="snippet" data-testid="note-item-snippet">
                            <Marked text={item.snippet ?? ''} ranges={item.snippet_highlights} />
                          </span>
                        </Show>
                      </div>
                    </div>
                  );
                }}
              </For>
            </div>
          </div>
        </Show>
      </Show>
    </div>
  );
}

/** Text with the search's matches marked. */
function Marked(props: { text: string; ranges: [number, number][] | undefined }) {
  return <For each={highlightParts(props.text, props.ranges)}>{(p) => (p.mark ? <mark>{p.text}</mark> : p.text)}</For>;
}

function ListSkeleton() {
  return (
    <div class="note-list skeleton" aria-busy="true" aria-label="Loading notes" data-testid="list-loading">
      <For each={[0, 1, 2, 3, 4, 5]}>
        {() => (
          <div class="note-row static">
            <div class="sk sk-title" />
            <div class="sk sk-meta" />
          </div>
        )}
      </For>
    </div>
  );
}
