// The device's last assigned nonce, persisted (Node only) so a restart never reuses one: reusing a
// nonce for different readings would make the node drop one batch as NONCE_TOO_LOW. Written atomically
// (tmp + fsync + rename + dir fsync). The queue is the second source of truth: on start the device
// takes max(stored, highest nonce in the queue), which covers a crash between queueing a signed batch
// and persisting its nonce (see device.ts).
//
// The same file keeps, per reading kind, the latest measurement time the device has queued: the chain
// rejects a batch holding a time not after the device's last one for that kind, and once the queue has
// drained the queue can no longer tell what that was.
//
// Nonces are per sender key, measurement times per physical device (the chain keeps them across key
// rotations). So the file names the key its nonce belongs to: opened for another key (the device
// rotated its key), the nonce restarts at 0 and the measurement times are kept.

import { readFileSync } from 'node:fs';
import { SdkError } from './errors.ts';
import { writeFileAtomic } from './fsutil.ts';

export class NonceStore {
  private last: number;
  private readonly path: string;
  private readonly measured: Map<number, number>;
  private readonly key: string | undefined;

  private constructor(path: string, last: number, measured: Map<number, number>, key: string | undefined) {
    this.path = path;
    this.last = last;
    this.measured = measured;
    this.key = key;
  }

  /** `keyHex`: the sender whose nonce this is (lower-case hex public key). */
  static open(path: string, keyHex?: string): NonceStore {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new NonceStore(path, 0, new Map(), keyHex);
      throw e;
    }
    let j: { last?: unknown; measuredAt?: unknown; key?: unknown };
    try {
      j = JSON.parse(text);
    } catch {
      throw new SdkError('NONCE_FILE_INVALID', `${path} is not JSON`);
    }
    const last = j?.last;
    if (typeof last !== 'number' || !Number.isSafeInteger(last) || last < 0) {
      throw new SdkError('NONCE_FILE_INVALID', `${path}: last must be a non-negative integer`);
    }
    // Absent in files written before it existed: then only the queue tells (Device.open).
    const measured = new Map<number, number>();
    if (j.measuredAt !== undefined) {
      if (typeof j.measuredAt !== 'object' || j.measuredAt === null || Array.isArray(j.measuredAt)) {
        throw new SdkError('NONCE_FILE_INVALID', `${path}: measuredAt must be an object`);
      }
      for (const [k, v] of Object.entries(j.measuredAt)) {
        const kind = Number(k);
        if (!Number.isSafeInteger(kind) || typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
          throw new SdkError('NONCE_FILE_INVALID', `${path}: measuredAt.${k} must be epoch ms`);
        }
        measured.set(kind, v);
      }
    }
    if (j.key !== undefined && typeof j.key !== 'string') {
      throw new SdkError('NONCE_FILE_INVALID', `${path}: key must be a hex string`);
    }
    // A file without `key` predates it: it can only be this device's current key.
    const sameKey = keyHex === undefined || j.key === undefined || j.key === keyHex;
    return new NonceStore(path, sameKey ? last : 0, measured, keyHex ?? (j.key as string | undefined));
  }

  /** The latest measurement time queued for a reading kind (undefined: none known). */
  lastMeasuredAt(kind: number): number | undefined {
    return this.measured.get(kind);
  }

  /** The last nonce assigned (0: none yet; the first transaction uses 1). */
  get lastAssigned(): number {
    return this.last;
  }

  /**
   * Persists `nonce` as the last assigned one (never moves backwards unless `force`) and raises the
   * per-kind latest measurement times to those of `readings` (they never move backwards), in one
   * atomic write.
   */
  record(nonce: number, force = false, readings: readonly { kind: number; measuredAt: number }[] = []): void {
    if (!Number.isSafeInteger(nonce) || nonce < 0)
      throw new RangeError('nonce must be a non-negative integer');
    const measured = new Map(this.measured);
    for (const r of readings) {
      if (r.measuredAt > (measured.get(r.kind) ?? Number.NEGATIVE_INFINITY))
        measured.set(r.kind, r.measuredAt);
    }
    const raised = [...measured].some(([k, v]) => this.measured.get(k) !== v);
    if (!raised && (nonce === this.last || (!force && nonce < this.last))) return;
    const last = force || nonce > this.last ? nonce : this.last;
    const json: { last: number; key?: string; measuredAt?: Record<string, number> } = { last };
    if (this.key !== undefined) json.key = this.key;
    if (measured.size > 0) json.measuredAt = Object.fromEntries(measured);
    writeFileAtomic(this.path, JSON.stringify(json) + '\n');
    this.last = last;
    for (const [k, v] of measured) this.measured.set(k, v);
  }
}
