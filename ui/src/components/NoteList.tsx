import { createEffect, createMemo, createSignal, For, on, onCleanup, Show } from 'solid-js';
import { NOTE_DRAG_TYPE } from '../api/notebooks';
import type { ListItem } from '../lib/search';
import { relativeTime } from '../lib/time';
import { moveIndex, scrollToReveal, visibleWindow } from '../lib/virtual';
import { Badge } from './Badge';
import { IconPin } from './icons';

/** Fixed row height (px): the windowing maths depends on it; CSS uses the same value. */
export const ROW_HEIGHT = 58;

export interface NoteListProps {
  items: readonly ListItem[];
  selectedId: string | null;
  now: number;
  loading: boolean;
  query: string;
  onOpen: (id: string) => void;
  onNew: () => void;
  newKeys: string;
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

  const win = createMemo(() => visibleWindow(props.items.length, ROW_HEIGHT, scrollTop(), height()));
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
    const top = scrollToReveal(i, ROW_HEIGHT, scroller.scrollTop, scroller.clientHeight);
    if (top !== null) {
      scroller.scrollTop = top;
      setScrollTop(top);
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
            <div class="note-list-spacer" style={{ height: `${win().totalHeight}px` }}>
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
                      style={{ transform: `translateY(${index() * ROW_HEIGHT}px)` }}
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
                          {item.title.trim() || 'Untitled'}
                        </span>
                        <Badge sync={item.sync} />
                      </div>
                      <div class="note-row-meta">
                        <time>{relativeTime(item.updated_at, props.now)}</time>
                        <Show when={item.snippet}>
                          <span class="snippet">{item.snippet}</span>
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
