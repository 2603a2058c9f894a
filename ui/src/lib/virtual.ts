// Windowing maths for the notes list. Rows have one fixed height, so the
// visible range is two divisions; a general virtualiser (measuring rows of
// different heights) would be more code than this whole file and gains
// nothing here.

export interface Window {
  /** First row to render (inclusive). */
  start: number;
  /** Row after the last one to render (exclusive). */
  end: number;
  /** Height of the whole list, for the scroll spacer. */
  totalHeight: number;
}

export function visibleWindow(
  count: number,
  rowHeight: number,
  scrollTop: number,
  viewportHeight: number,
  overscan = 6,
): Window {
  const totalHeight = count * rowHeight;
  if (count === 0 || rowHeight <= 0) return { start: 0, end: 0, totalHeight };
  const maxTop = Math.max(0, totalHeight - viewportHeight);
  const top = Math.min(Math.max(0, scrollTop), maxTop);
  const first = Math.floor(top / rowHeight);
  const last = Math.ceil((top + Math.max(0, viewportHeight)) / rowHeight);
  return {
    start: Math.max(0, first - overscan),
    end: Math.min(count, Math.max(last, first + 1) + overscan),
    totalHeight,
  };
}

/** The scrollTop that brings row `index` fully into view, or null if it already is. */
export function scrollToReveal(index: number, rowHeight: number, scrollTop: number, viewportHeight: number): number | null {
  const top = index * rowHeight;
  const bottom = top + rowHeight;
  if (top < scrollTop) return top;
  if (bottom > scrollTop + viewportHeight) return Math.max(0, bottom - viewportHeight);
  return null;
}

/** Index after a keyboard move in a list of `count` rows (arrows, page keys, home/end). */
export function moveIndex(
  current: number,
  key: string,
  count: number,
  pageRows: number,
): number | null {
  if (count === 0) return null;
  const at = current < 0 ? -1 : current;
  switch (key) {
    case 'ArrowDown':
      return Math.min(count - 1, at + 1);
    case 'ArrowUp':
      return Math.max(0, at < 0 ? 0 : at - 1);
    case 'PageDown':
      return Math.min(count - 1, Math.max(0, at) + Math.max(1, pageRows));
    case 'PageUp':
      return Math.max(0, Math.max(0, at) - Math.max(1, pageRows));
    case 'Home':
      return 0;
    case 'End':
      return count - 1;
    default:
      return null;
  }
}
