import type { Theme } from '../api/types';

export type Resolved = 'light' | 'dark';

export function resolveTheme(setting: Theme, prefersDark: boolean): Resolved {
  if (setting === 'light' || setting === 'dark') return setting;
  return prefersDark ? 'dark' : 'light';
}

export function isTheme(v: unknown): v is Theme {
  return v === 'system' || v === 'light' || v === 'dark';
}

const KEY = 'outpost.theme';

/** The theme last applied, cached so the first paint does not flash. */
export function cachedTheme(storage: Pick<Storage, 'getItem'> | undefined): Theme {
  try {
    const v = storage?.getItem(KEY);
    return isTheme(v) ? v : 'system';
  } catch {
    return 'system';
  }
}

export function cacheTheme(storage: Pick<Storage, 'setItem'> | undefined, t: Theme): void {
  try {
    storage?.setItem(KEY, t);
  } catch {
    /* private mode: the core still has the setting */
  }
}

/** Set `data-theme` on the root element; CSS variables do the rest. */
export function applyTheme(root: HTMLElement, setting: Theme, prefersDark: boolean): Resolved {
  const r = resolveTheme(setting, prefersDark);
  root.dataset.theme = r;
  root.style.colorScheme = r;
  return r;
}
