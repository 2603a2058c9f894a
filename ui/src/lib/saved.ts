// A setting changed on screen at once and written to the core behind it.
// Writes go one at a time, in the order they were made: two quick changes
// sent together could land in either order, and the older one would win.
// A write the core refuses puts back what the core last accepted, so the
// screen never shows a setting that is not in force.

export interface SavedValueHooks<T> {
  /** Write `value` to the core. */
  save(value: T): Promise<void>;
  /** Show `value` (the change at once, or what is put back after a refusal). */
  show(value: T): void;
  /** A write failed (say so: a toast). */
  failed(error: unknown): void;
}

export class SavedValue<T> {
  private confirmed: T | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private seq = 0;

  constructor(private readonly hooks: SavedValueHooks<T>) {}

  /** What the core holds, as just read from it. */
  known(value: T): void {
    this.confirmed = value;
  }

  /**
   * Show `value` now and write it after the writes before it. Resolves
   * true once it is written, false if the core refused it (then the value
   * it last accepted shows again, unless a later change is on its way).
   */
  set(value: T): Promise<boolean> {
    const my = ++this.seq;
    this.hooks.show(value);
    const write = this.queue.then(async () => {
      try {
        await this.hooks.save(value);
        this.confirmed = value;
        return true;
      } catch (e) {
        this.hooks.failed(e);
        if (my === this.seq && this.confirmed !== undefined) this.hooks.show(this.confirmed);
        return false;
      }
    });
    this.queue = write;
    return write;
  }

  /** Resolves once every write made so far has been answered. */
  async settled(): Promise<void> {
    await this.queue;
  }
}
