// Shared test helpers (not tests themselves).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeBody } from '@vigil/consensus/wire/bodies/index.ts';
import type { Device, DeviceEvent, FlushOutcome } from '../sdk/device.ts';
import type { LedgerTx } from './fake-node.ts';

/** Measurement time of batch 0 in the crash test's child device process. */
export const CHILD_T0 = Date.UTC(2026, 0, 1);

export function tempDir(t: { teardown(fn: () => void): void }, prefix = 'vigil-sdk-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Polls `cond` until true; fails after `timeoutMs` (a generous bound, not a timing assertion). */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The readings of committed submitReadings transactions, flattened in commit order. */
export function committedReadings(
  txs: readonly LedgerTx[],
): { kind: number; value: number; measuredAt: number }[] {
  return txs.flatMap((lt) => {
    const b = decodeBody(lt.tx.type, lt.tx.body);
    if (b.type !== 50) return [];
    return b.readings.map((r) => ({ kind: r.kind, value: r.value, measuredAt: r.measuredAt }));
  });
}

/** Flushes until idle or `max` passes; returns the outcomes. */
export async function flushUntilIdle(device: Device, max = 20): Promise<FlushOutcome[]> {
  const out: FlushOutcome[] = [];
  for (let i = 0; i < max; i++) {
    const o = await device.flushOnce();
    out.push(o);
    if (o === 'idle') break;
  }
  return out;
}

/** The commitUnverified events among `events`. */
export function unverifiedEvents(events: readonly DeviceEvent[]) {
  return events.filter(
    (e): e is Extract<DeviceEvent, { type: 'commitUnverified' }> => e.type === 'commitUnverified',
  );
}
