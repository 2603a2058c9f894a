// What the tests that render the whole app in jsdom share: the browser
// pieces jsdom lacks, the clean-up after each test, and the ways to find
// elements and wait for the app.
import { afterEach, beforeAll, vi } from 'vitest';

/**
 * Registers the shims (before all tests) and the clean-up (after each) in
 * the calling test file. The test puts its `render`'s dispose in the
 * returned holder; the clean-up calls it.
 */
export function appDom(): { dispose: (() => void) | null } {
  const mounted: { dispose: (() => void) | null } = { dispose: null };
  beforeAll(() => {
    window.matchMedia ??= ((q: string) =>
      ({ matches: false, media: q, addEventListener() {}, removeEventListener() {} }) as unknown as MediaQueryList) as typeof window.matchMedia;
    globalThis.ResizeObserver ??= class {
      observe() {}
      unobserve() {}
      disconnect() {}
    } as unknown as typeof ResizeObserver;
  });
  afterEach(() => {
    mounted.dispose?.();
    mounted.dispose = null;
    document.body.innerHTML = '';
    localStorage.clear();
  });
  return mounted;
}

export const $ = (id: string, within: ParentNode = document) =>
  within.querySelector<HTMLElement>(`[data-testid="${id}"]`);
export const $$ = (id: string, within: ParentNode = document) => [
  ...within.querySelectorAll<HTMLElement>(`[data-testid="${id}"]`),
];
/** Resolves with `f()` once it holds, checked every few milliseconds. */
export const until = <T>(f: () => T | null | undefined | false) =>
  vi.waitFor(
    () => {
      const v = f();
      if (!v) throw new Error(`still waiting for ${f.toString()}`);
      return v;
    },
    { timeout: 10_000, interval: 5 },
  );
