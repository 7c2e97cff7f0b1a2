// "Grants to me" followed while a view is open (GET /v1/me/patients, ADR 0130, ADR 0132): the set of
// patients who give the signed-in key access now, asked of the node again when something may have changed
// it, and told to the view with each answer: who joined, whose access ended (listed at the answer before,
// not at this one), and when the question was sent, so that a view can tell what it read before the
// answer (no longer allowed) from what it read after (a grant newer than the answer). Shared by the clinician view (its list of patients) and the patient view (a guardian's
// wards). DOM-free, unit-tested.
//
// When it asks: whenever the view says so (it opens, the live feed brings a block or is back after an
// outage, an alert names a patient not listed), and when the soonest expiry among the entries kept
// passes, since a grant or break-glass access that expires writes no block. Not on a polling loop: every
// change to grants, break-glass accesses and guardianships is a transaction, so a block (the dashboard's
// live feed already carries them) is when the answer can change, and expiry is the one change that is
// not. The question is no read of patient data: the node records no access for it.
//
// It keeps the keys in memory only: nothing is written to Web Storage (ADR 0124), and the view that owns
// it disposes of it at sign-out.
import { type AccessToMe, ApiProblem } from './client.ts';

const HEX64 = /^[0-9a-f]{64}$/;
/** setTimeout's largest delay (about 24.8 days); a later expiry is looked at again then. */
const MAX_DELAY_MS = 2 ** 31 - 1;
/** Asked again this long after the soonest expiry by the node's clock: the node decides at its own now. */
const EXPIRY_MARGIN_MS = 1_000;

export interface GrantsAnswer {
  /** Every patient listed now. */
  listed: ReadonlySet<string>;
  /** Listed now and not at the answer before (at the first answer: every patient). */
  added: string[];
  /** Listed at the answer before and not now: their access ended (revoked, removed, expired, suspended). */
  ended: string[];
  /** When the question was sent (Date.now()): the answer is the node's state from then on. */
  askedAt: number;
}

export interface GrantsToMeOptions {
  /** Asks the node (Client.accessToMe with the session's signer). */
  ask: () => Promise<AccessToMe[]>;
  /** Which entries count (a guardian's view: guardianships only); every entry by default. */
  keep?: (e: AccessToMe) => boolean;
  /** Told every answer (the first one too, whatever it holds). */
  onAnswer: (a: GrantsAnswer) => void;
  /**
   * Told what to say when asking failed (the set is left as it was), and `undefined` once an answer
   * came again.
   */
  onError: (text: string | undefined) => void;
  /** The node's clock (Client.now): expiries are the node's times. */
  now: () => number;
  /** For tests. */
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
}

export class GrantsToMe {
  readonly #o: GrantsToMeOptions;
  readonly #setTimer: (fn: () => void, ms: number) => unknown;
  readonly #clearTimer: (t: unknown) => void;
  #listed = new Set<string>();
  #failing = false;
  #asking: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  #timer: unknown;
  #disposed = false;

  constructor(options: GrantsToMeOptions) {
    this.#o = options;
    this.#setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.#clearTimer = options.clearTimer ?? ((t) => clearTimeout(t as ReturnType<typeof setTimeout>));
  }

  /** Listed at the last answer. */
  has(patient: string): boolean {
    return this.#listed.has(patient);
  }

  /** The patients listed at the last answer. */
  get listed(): ReadonlySet<string> {
    return this.#listed;
  }

  /**
   * Asks the node now. A call while a question is on its way is answered by one more after it (several
   * coalesce into that one), so that a change the first one left out is seen. Never rejects.
   */
  check(): Promise<void> {
    if (this.#disposed) return Promise.resolve();
    if (this.#asking) {
      this.#queued ??= this.#asking.then(() => {
        this.#queued = undefined;
        return this.check();
      });
      return this.#queued;
    }
    this.#asking = this.#ask().finally(() => {
      this.#asking = undefined;
    });
    return this.#asking;
  }

  /** Stops the expiry timer; later answers are ignored. */
  dispose(): void {
    this.#disposed = true;
    this.#clearTimer(this.#timer);
    this.#timer = undefined;
    this.#listed = new Set();
  }

  async #ask(): Promise<void> {
    let entries: AccessToMe[];
    const askedAt = Date.now();
    try {
      entries = await this.#o.ask();
    } catch (e) {
      if (this.#disposed) return;
      // The set stays as it was: a node that cannot be reached has not revoked anything.
      this.#failing = true;
      this.#o.onError(grantsErrorText(e));
      return;
    }
    if (this.#disposed) return;
    if (this.#failing) {
      this.#failing = false;
      this.#o.onError(undefined);
    }
    const kept = entries.filter((e) => HEX64.test(e.patient) && (this.#o.keep?.(e) ?? true));
    const next = new Set(kept.map((e) => e.patient));
    const added = [...next].filter((k) => !this.#listed.has(k));
    const ended = [...this.#listed].filter((k) => !next.has(k));
    this.#listed = next;
    this.#watchExpiry(kept);
    this.#o.onAnswer({ listed: next, added, ended, askedAt });
  }

  /** Asks again once the soonest expiry among the entries kept has passed. */
  #watchExpiry(kept: AccessToMe[]): void {
    this.#clearTimer(this.#timer);
    this.#timer = undefined;
    const now = this.#o.now();
    let soonest = Number.POSITIVE_INFINITY;
    for (const e of kept) if (e.expiresAt !== null && e.expiresAt < soonest) soonest = e.expiresAt;
    if (!Number.isFinite(soonest)) return;
    const delay = Math.min(MAX_DELAY_MS, Math.max(0, soonest - now) + EXPIRY_MARGIN_MS);
    this.#timer = this.#setTimer(() => {
      this.#timer = undefined;
      void this.check();
    }, delay);
  }
}

/** What a view says when the node could not be asked. */
function grantsErrorText(e: unknown): string {
  const why = e instanceof ApiProblem ? e.message : String(e);
  return `Could not ask the node which patients granted you access: ${why}`;
}
