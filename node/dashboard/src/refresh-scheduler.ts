// Which patient panels a block refreshes, and how many at once. Every panel refresh is about ten
// signed reads, each recorded on the chain (docs/api.md "Audit of reads": a node refuses reads it
// cannot record yet, 503 AUDIT_BACKLOG). Refreshing a whole ward every few seconds would spend that
// budget on panels nobody is looking at. So a block refreshes the panels on screen, a few at a time;
// one off screen is marked stale and refreshed when it scrolls into view. An alert always refreshes its
// patient's panel at once (the caller does that directly). DOM-free, unit-tested.

export class RefreshScheduler<K> {
  readonly #limit: number;
  readonly #run: (key: K) => Promise<void>;
  readonly #visible = new Set<K>();
  readonly #stale = new Set<K>();
  readonly #queue: K[] = [];
  readonly #queued = new Set<K>();
  #running = 0;

  /** `run` refreshes one panel; at most `limit` run at once. */
  constructor(run: (key: K) => Promise<void>, limit = 4) {
    this.#run = run;
    this.#limit = limit;
  }

  /** A panel came on screen (true) or left it (false); a stale one coming on screen is refreshed. */
  setVisible(key: K, visible: boolean): void {
    if (!visible) {
      this.#visible.delete(key);
      return;
    }
    this.#visible.add(key);
    if (this.#stale.delete(key)) this.#enqueue(key);
  }

  /** Something changed for every panel (a block, the feed resumed): refresh those on screen, mark the rest. */
  refreshAll(keys: Iterable<K>): void {
    for (const k of keys) {
      if (this.#visible.has(k)) this.#enqueue(k);
      else this.#stale.add(k);
    }
  }

  /**
   * Every panel must be read now, on screen or not (alerts may have been missed: the live feed could
   * not catch them all up), still `limit` at a time.
   */
  refreshEvery(keys: Iterable<K>): void {
    for (const k of keys) {
      this.#stale.delete(k);
      this.#enqueue(k);
    }
  }

  /** A panel is gone. */
  forget(key: K): void {
    this.#visible.delete(key);
    this.#stale.delete(key);
  }

  /** Panels waiting to be refreshed when they come on screen (tests, diagnostics). */
  get staleCount(): number {
    return this.#stale.size;
  }

  #enqueue(key: K): void {
    if (this.#queued.has(key)) return;
    this.#queued.add(key);
    this.#queue.push(key);
    this.#pump();
  }

  #pump(): void {
    while (this.#running < this.#limit && this.#queue.length > 0) {
      const key = this.#queue.shift()!;
      this.#queued.delete(key);
      this.#running++;
      void this.#run(key)
        .catch(() => undefined) // a panel shows its own errors
        .finally(() => {
          this.#running--;
          this.#pump();
        });
    }
  }
}
