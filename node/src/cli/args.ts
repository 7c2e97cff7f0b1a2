// Argument parsing helpers for the CLI: typed values with usage errors that say what to fix.
import { fromHex } from '@vigil/consensus/wire';
import { CliError, ExitCode } from './node-client.ts';

export class UsageError extends CliError {
  constructor(message: string) {
    super('USAGE', message, ExitCode.usage);
    this.name = 'UsageError';
  }
}

/**
 * node:util parseArgs' error as a usage message: its wording for an unknown option goes on about
 * positionals, while the option is what the operator has to fix. Shared by `vigil` and `npm start`.
 */
export function parseArgsMessage(err: Error): string {
  const unknown = /^Unknown option '([^']+)'/.exec(err.message)?.[1];
  return unknown !== undefined ? `unknown option ${unknown}` : err.message;
}

export function required(v: string | undefined, name: string): string {
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

export function int(v: string | undefined, name: string, fallback?: number): number {
  if (v === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required`);
    return fallback;
  }
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer`);
  return n;
}

export function key(v: string | undefined, name: string): Uint8Array {
  const s = required(v, name);
  if (!/^[0-9a-f]{64}$/.test(s))
    throw new UsageError(`--${name} must be a public key: 64 lower-case hex characters`);
  return fromHex(s);
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `15m`, `12h`, `30d` or plain ms. */
export function duration(v: string | undefined, name: string, fallback?: number): number {
  if (v === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required`);
    return fallback;
  }
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(v);
  if (!m) throw new UsageError(`--${name} must be a duration like 90s, 15m, 12h, 30d (or ms)`);
  return Number(m[1]) * UNITS[m[2] ?? 'ms']!;
}

export const PURPOSES: Record<string, 1 | 2 | 3> = {
  treatment: 1,
  research: 2,
  emergency: 3,
  '1': 1,
  '2': 2,
  '3': 3,
};

export function purpose(v: string | undefined, fallback: 1 | 2 | 3 = 1): 1 | 2 | 3 {
  if (v === undefined) return fallback;
  const p = PURPOSES[v];
  if (!p) throw new UsageError('--purpose must be treatment, research or emergency');
  return p;
}
