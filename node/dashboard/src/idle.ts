// Automatic logoff (ADR 0127): a tab left signed in on a ward workstation holds the user's signing seed
// and, for a clinician, a list of patients. After `idleMs` without user activity (pointer, keyboard,
// touch, wheel) it is signed out as by the "Sign out" button, after a warning during the last
// `warningMs(idleMs)` that a click, key or touch ends. Only the user's input
// counts: the live feed's blocks and alerts, and the refreshes they cause, are not activity, or a busy
// ward's screen would never sign out.
//
// Time is read from the clock at each event and each timer, never counted in ticks: a hidden tab's timers
// are throttled (to once a minute in Chromium) and a sleeping machine runs none, so a timer may come
// late. Once the deadline has passed the session is over, even if the first thing that happens then is
// someone touching the mouse: that may be the next user.
//
// A transaction already sent (a break-glass request, a grant, an acknowledgement: `busy()`) defers the
// sign-out until it is answered, so that the chain's outcome is not left unseen by the user who asked for
// it, for at most `maxDeferMs`: the node answers `?wait=commit` within 20 s, so a submission still open
// after that is a dead connection, and the transaction's fate is on the chain either way.

/** The longest warning: a minute, the usual ward-workstation countdown. */
export const MAX_WARNING_MS = 60_000;
/** How long a due sign-out waits for a transaction already sent. */
export const MAX_DEFER_MS = 120_000;

/** The warning before a sign-out after `idleMs`: a minute, or half the time for a shorter setting. */
export function warningMs(idleMs: number): number {
  return Math.min(MAX_WARNING_MS, Math.floor(idleMs / 2));
}

export interface IdleClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: IdleClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface IdleHandlers {
  /**
   * The warning: whole seconds left before the sign-out, called when it starts and as each second
   * passes; 0 when the sign-out is due but waits for a transaction already sent.
   */
  warn(secondsLeft: number): void;
  /** Activity ended the warning. */
  resume(): void;
  /** The time is up: sign out. Called once; the timer is stopped. */
  signOut(): void;
}

export interface IdleOptions {
  idleMs: number;
  /** Whether a transaction this tab sent is still waiting for its answer. */
  busy?: () => boolean;
  maxDeferMs?: number;
  clock?: IdleClock;
}

export class IdleTimer {
  private readonly idleMs: number;
  private readonly warnMs: number;
  private readonly busy: () => boolean;
  private readonly maxDeferMs: number;
  private readonly clock: IdleClock;
  private readonly handlers: IdleHandlers;
  private last = 0;
  private timer: unknown;
  /** Seconds last shown in the warning; undefined when there is none. */
  private shown: number | undefined;
  private running = false;

  constructor(options: IdleOptions, handlers: IdleHandlers) {
    this.idleMs = options.idleMs;
    this.warnMs = warningMs(options.idleMs);
    this.busy = options.busy ?? (() => false);
    this.maxDeferMs = options.maxDeferMs ?? MAX_DEFER_MS;
    this.clock = options.clock ?? realClock;
    this.handlers = handlers;
  }

  /** Starts counting from now (a sign-in, or a page restoring its session: both are the user's doing). */
  start(): void {
    this.running = true;
    this.last = this.clock.now();
    this.check();
  }

  stop(): void {
    this.running = false;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * The user did something. Past the deadline it keeps nothing: the session ends (see the top). During
   * the warning only a deliberate act (a click, a key, a touch: `deliberate`) ends it, not a pointer
   * moving or a wheel turning: a nudged mouse must not dismiss the warning unread, and the hand moving
   * to "Stay signed in" must not make the button vanish before it is pressed.
   */
  activity(deliberate = true): void {
    if (!this.running) return;
    const now = this.clock.now();
    if (now - this.last >= this.idleMs) {
      this.check();
      return;
    }
    if (this.shown !== undefined) {
      if (!deliberate) return;
      this.last = now;
      this.shown = undefined;
      this.handlers.resume();
      this.check();
      return;
    }
    // The pending timer finds the new `last` when it fires and waits again: a moving mouse costs no
    // timer churn.
    this.last = now;
  }

  /**
   * Acts on the time now: what the pending timer would do if it had run on time. For a tab coming back
   * into view, whose timers the browser held back while it was hidden.
   */
  check(): void {
    if (!this.running) return;
    this.clock.clearTimeout(this.timer);
    const now = this.clock.now();
    const deadline = this.last + this.idleMs;
    const left = deadline - now;
    if (left <= 0) {
      if (this.busy() && now - deadline < this.maxDeferMs) {
        this.show(0);
        this.after(Math.min(1_000, deadline + this.maxDeferMs - now));
        return;
      }
      this.stop();
      this.shown = undefined;
      this.handlers.signOut();
      return;
    }
    if (left > this.warnMs) {
      this.after(left - this.warnMs);
      return;
    }
    const seconds = Math.ceil(left / 1_000);
    this.show(seconds);
    // Wake when the count drops by one, or at the deadline.
    this.after(left - (seconds - 1) * 1_000);
  }

  private show(seconds: number): void {
    if (this.shown === seconds) return;
    this.shown = seconds;
    this.handlers.warn(seconds);
  }

  private after(ms: number): void {
    this.timer = this.clock.setTimeout(() => this.check(), ms);
  }
}
