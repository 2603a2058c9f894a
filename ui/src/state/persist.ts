// What the UI keeps across restarts in localStorage. Losing it is harmless
// (a private window, a full disk): every read has a default.

const PREVIEW_KEY = 'outpost.preview';
const LAST_NOTE_KEY = 'outpost.lastNote';
/** The preview set is a convenience; bound what it costs to keep. */
const PREVIEW_LIMIT = 500;

function write(key: string, value: string | null): void {
  try {
    if (value === null) globalThis.localStorage?.removeItem(key);
    else globalThis.localStorage?.setItem(key, value);
  } catch {
    /* not kept across restarts then */
  }
}

function read(key: string): string | null {
  try {
    return globalThis.localStorage?.getItem(key) ?? null;
  } catch {
    return null;
  }
}

export function loadLastNote(): string | null {
  return read(LAST_NOTE_KEY);
}

export function saveLastNote(id: string | null): void {
  write(LAST_NOTE_KEY, id);
}

/** The notes shown as a preview rather than as Markdown. */
export function loadPreviewIds(): Set<string> {
  try {
    const raw = read(PREVIEW_KEY);
    const arr: unknown = raw ? JSON.parse(raw) : [];
    return new Set(Array.isArray(arr) ? arr.filter((x): x is string => typeof x === 'string') : []);
  } catch {
    return new Set();
  }
}

export function savePreviewIds(ids: ReadonlySet<string>): void {
  write(PREVIEW_KEY, JSON.stringify([...ids].slice(-PREVIEW_LIMIT)));
}

const SORT_KEY = 'outpost.sort';

/** The list's order: last edited unless the user chose another. */
export function loadSort(): 'updated' | 'created' | 'title' {
  const v = read(SORT_KEY);
  return v === 'created' || v === 'title' ? v : 'updated';
}

export function saveSort(key: 'updated' | 'created' | 'title'): void {
  write(SORT_KEY, key === 'updated' ? null : key);
}
