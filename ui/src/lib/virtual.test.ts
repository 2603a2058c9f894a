import { describe, expect, it } from 'vitest';
import { moveIndex, scrollToReveal, visibleWindow } from './virtual';

describe('visibleWindow', () => {
  it('renders only the rows in view plus overscan, for 10,000 notes', () => {
    const w = visibleWindow(10_000, 58, 0, 600, 6);
    expect(w).toEqual({ start: 0, end: 17, totalHeight: 580_000 });
  });

  it('moves with the scroll position', () => {
    const w = visibleWindow(10_000, 50, 5000, 500, 5);
    expect(w.start).toBe(95);
    expect(w.end).toBe(115);
    expect(w.end - w.start).toBeLessThan(30);
  });

  it('clamps at the end of the list', () => {
    const w = visibleWindow(100, 50, 999_999, 500, 5);
    expect(w.end).toBe(100);
    expect(w.start).toBe(85);
  });

  it('handles an empty list and a zero-height viewport', () => {
    expect(visibleWindow(0, 50, 0, 500)).toEqual({ start: 0, end: 0, totalHeight: 0 });
    const w = visibleWindow(10, 50, 0, 0, 0);
    expect(w.end - w.start).toBeGreaterThanOrEqual(1);
  });

  it('a negative scrollTop (elastic scrolling) reads as the top', () => {
    expect(visibleWindow(100, 50, -40, 500, 0).start).toBe(0);
  });
});

describe('scrollToReveal', () => {
  it('scrolls up or down just enough, or not at all', () => {
    expect(scrollToReveal(5, 50, 0, 500)).toBeNull();
    expect(scrollToReveal(12, 50, 0, 500)).toBe(150);
    expect(scrollToReveal(2, 50, 300, 500)).toBe(100);
  });
});

describe('moveIndex', () => {
  it.each([
    [0, 'ArrowDown', 1],
    [9, 'ArrowDown', 9],
    [0, 'ArrowUp', 0],
    [5, 'ArrowUp', 4],
    [-1, 'ArrowDown', 0],
    [-1, 'ArrowUp', 0],
    [2, 'PageDown', 7],
    [8, 'PageDown', 9],
    [7, 'PageUp', 2],
    [5, 'Home', 0],
    [5, 'End', 9],
  ])('from %i, %s goes to %i', (from, key, to) => {
    expect(moveIndex(from, key, 10, 5)).toBe(to);
  });
  it('ignores other keys and empty lists', () => {
    expect(moveIndex(0, 'a', 10, 5)).toBeNull();
    expect(moveIndex(0, 'ArrowDown', 0, 5)).toBeNull();
  });
});
