// The fuzz harness: every decoder that reads bytes from a peer, a device, a client or the disk is a
// FuzzTarget, run under fast-check with a seed and a case count. A target's `run` feeds one input and
// returns the outcome ('accepted' or the stable code of the typed error it was refused with); anything
// else (an untyped exception, a crash, a case slower than the hang budget) is a finding, reported with
// fast-check's shrunk counterexample and the seed that reproduces it.
import fc from 'fast-check';

export class FuzzFinding extends Error {
  readonly code = 'FUZZ_FINDING';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FuzzFinding';
  }
}

export const ACCEPTED = 'accepted';

export interface FuzzTarget<I = unknown> {
  /** Stable name, e.g. 'wire/decodeTransaction'. */
  readonly name: string;
  /**
   * A test in the repository that already runs a CI-sized property over this decoder: the CI fuzz
   * test skips the target (no duplicate work), the long run (`npm run fuzz`) still covers it.
   */
  readonly ciElsewhere?: string;
  /** Cost hint: the long run gives a target `weight` x the base case count (HTTP cases are slow). */
  readonly weight?: number;
  readonly arbitrary: fc.Arbitrary<I>;
  /** Feeds one input; returns ACCEPTED or the code of a typed rejection; throws FuzzFinding otherwise. */
  run(input: I): string | Promise<string>;
}

/** A target with its input type forgotten, for lists of targets (fast-check arbitraries are invariant). */
export type AnyFuzzTarget = FuzzTarget<unknown>;
export const erase = <I>(t: FuzzTarget<I>): AnyFuzzTarget => t as unknown as AnyFuzzTarget;

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Calls `fn`; a throw of one of `allowed` with a string `code` is a typed rejection (its code is the
 * outcome), any other throw is a finding.
 */
export function typed(fn: () => unknown, ...allowed: ErrorClass[]): string {
  try {
    fn();
    return ACCEPTED;
  } catch (e) {
    return codeOf(e, allowed);
  }
}

export async function typedAsync(fn: () => Promise<unknown>, ...allowed: ErrorClass[]): Promise<string> {
  try {
    await fn();
    return ACCEPTED;
  } catch (e) {
    return codeOf(e, allowed);
  }
}

function codeOf(e: unknown, allowed: ErrorClass[]): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (allowed.some((c) => e instanceof c) && typeof code === 'string') return code;
  throw new FuzzFinding(
    `untyped failure: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} (allowed: ${allowed.map((c) => c.name).join(', ')})`,
    { cause: e },
  );
}

export interface TargetReport {
  target: string;
  runs: number;
  seed: number;
  /** Outcomes by code ('accepted' or the typed error's code). */
  outcomes: Record<string, number>;
  /** Slowest single case (ms): a hang shows here before it shows anywhere else. */
  maxCaseMs: number;
  elapsedMs: number;
  /** The shrunk counterexample and error, if the target failed. */
  failure?: string;
}

export interface RunOptions {
  runs: number;
  seed: number;
  /** A single case slower than this is a finding (a decoder must not be made to spin). */
  hangMs?: number;
}

export async function runTarget<I>(target: FuzzTarget<I>, o: RunOptions): Promise<TargetReport> {
  const outcomes: Record<string, number> = {};
  let maxCaseMs = 0;
  const hangMs = o.hangMs ?? 2_000;
  const record = (outcome: string, started: number) => {
    const ms = performance.now() - started;
    if (ms > maxCaseMs) maxCaseMs = ms;
    if (ms > hangMs) throw new FuzzFinding(`one case took ${ms.toFixed(0)} ms (budget ${hangMs} ms)`);
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  };
  const property = fc.asyncProperty(target.arbitrary, async (input) => {
    const started = performance.now();
    record(await target.run(input), started);
  });
  const t0 = performance.now();
  const details = await fc.check(property, { numRuns: o.runs, seed: o.seed });
  const report: TargetReport = {
    target: target.name,
    runs: details.numRuns,
    seed: o.seed,
    outcomes,
    maxCaseMs: Math.round(maxCaseMs * 10) / 10,
    elapsedMs: Math.round(performance.now() - t0),
  };
  if (details.failed) {
    const err = details.errorInstance;
    report.failure = `${err instanceof Error ? err.message : String(err)}\ncounterexample: ${fc.stringify(details.counterexample)}\nreproduce: seed ${details.seed}, path ${details.counterexamplePath}`;
  }
  return report;
}
