// Debounced autosave that never drops an edit.
//
// Edits to a note merge into one pending patch; the patch is sent
// `delayMs` after typing stops, or at once on flush (blur, note switch,
// window close, Ctrl+S). One save per note is in flight at a time; edits
// made meanwhile wait for it and go next. A failed save puts its patch back
// under any newer edits, so the next flush sends everything again.
import type { Note, NotePatch } from '../api/types';

/**
 * An edit as recorded. The body may be a function that reads it from an
 * immutable editor state at save time, so typing in a large note does not
 * copy the whole text on every key.
 */
export type EditPatch = Omit<NotePatch, 'body'> & { body?: string | (() => string) };

export type SaveState = 'saved' | 'dirty' | 'saving' | 'error';

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface AutosaveOptions {
  save: (id: string, patch: NotePatch) => Promise<Note>;
  delayMs?: number;
  timers?: Timers;
  /** After every successful save (to refresh the list line). */
  onSaved?: (note: Note) => void;
  onError?: (id: string, error: unknown) => void;
  /** Whenever a note's state changes. */
  onState?: (id: string, state: SaveState) => void;
}

interface Entry {
  pending: EditPatch | null;
  inFlight: Promise<void> | null;
  timer: unknown;
  state: SaveState;
}

/** Later fields win. */
export function mergePatch(a: EditPatch | null, b: EditPatch): EditPatch {
  return { ...(a ?? {}), ...b };
}

/** The patch as sent to the core. */
export function resolvePatch(p: EditPatch): NotePatch {
  const { body, ...rest } = p;
  return body === undefined ? rest : { ...rest, body: typeof body === 'function' ? body() : body };
}

export class Autosaver {
  readonly delayMs: number;
  private readonly entries = new Map<string, Entry>();
  private readonly timers: Timers;

  constructor(private readonly opts: AutosaveOptions) {
    this.delayMs = opts.delayMs ?? 400;
    this.timers = opts.timers ?? realTimers;
  }

  /** Record an edit; it is saved after the debounce delay. */
  edit(id: string, patch: EditPatch): void {
    const e = this.entry(id);
    e.pending = mergePatch(e.pending, patch);
    this.setState(id, e, 'dirty');
    if (e.timer !== null) this.timers.clear(e.timer);
    e.timer = this.timers.set(() => {
      e.timer = null;
      void this.flush(id);
    }, this.delayMs);
  }

  state(id: string): SaveState {
    return this.entries.get(id)?.state ?? 'saved';
  }

  /** The edits not yet saved for `id` (what the store does not have). */
  pendingPatch(id: string): NotePatch | null {
    const p = this.entries.get(id)?.pending;
    return p ? resolvePatch(p) : null;
  }

  /** Whether `id` has edits the core has not acknowledged yet. */
  isDirty(id: string): boolean {
    const e = this.entries.get(id);
    return !!e && (e.pending !== null || e.inFlight !== null);
  }

  /** Whether any note has edits not yet acknowledged by the core. */
  hasUnsaved(): boolean {
    for (const e of this.entries.values()) if (e.pending || e.inFlight) return true;
    return false;
  }

  /**
   * Save `id` now (or every note), and resolve once everything edited so far
   * has been acknowledged, or has failed (then it stays pending).
   */
  async flush(id?: string): Promise<void> {
    if (id === undefined) {
      await Promise.all([...this.entries.keys()].map((k) => this.flush(k)));
      return;
    }
    const e = this.entries.get(id);
    if (!e) return;
    if (e.timer !== null) {
      this.timers.clear(e.timer);
      e.timer = null;
    }
    // Wait for the save in flight; edits made meanwhile go in the next one.
    while (e.inFlight) await e.inFlight;
    if (!e.pending) return;
    const patch = resolvePatch(e.pending);
    e.pending = null;
    this.setState(id, e, 'saving');
    let failed = false;
    e.inFlight = (async () => {
      try {
        const note = await this.opts.save(id, patch);
        this.opts.onSaved?.(note);
      } catch (err) {
        failed = true;
        // Keep it: put the failed patch back under anything typed since.
        e.pending = e.pending ? mergePatch(patch, e.pending) : patch;
        this.opts.onError?.(id, err);
      }
    })();
    await e.inFlight;
    e.inFlight = null;
    if (failed) {
      this.setState(id, e, 'error');
      return;
    }
    if (e.pending) {
      // Typed during the save: the debounce timer, or a flush that cleared
      // it and now waits for this save, sends the rest.
      this.setState(id, e, 'dirty');
      return;
    }
    this.setState(id, e, 'saved');
    this.entries.delete(id);
  }

  /** Stop timers (tests, teardown). Pending edits stay recorded. */
  dispose(): void {
    for (const e of this.entries.values()) if (e.timer !== null) this.timers.clear(e.timer);
  }

  private entry(id: string): Entry {
    let e = this.entries.get(id);
    if (!e) {
      e = { pending: null, inFlight: null, timer: null, state: 'saved' };
      this.entries.set(id, e);
    }
    return e;
  }

  private setState(id: string, e: Entry, s: SaveState): void {
    if (e.state === s) return;
    e.state = s;
    this.opts.onState?.(id, s);
  }
}
