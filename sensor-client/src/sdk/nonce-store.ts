// The device's last assigned nonce, persisted (Node only) so a restart never reuses one: reusing a
// nonce for different readings would make the node drop one batch as NONCE_TOO_LOW. Written atomically
// (tmp + fsync + rename + dir fsync). The queue is the second source of truth: on start the device
// takes max(stored, highest nonce in the queue), which covers a crash between queueing a signed batch
// and persisting its nonce (see device.ts).

import { readFileSync } from 'node:fs';
import { SdkError } from './errors.ts';
import { writeFileAtomic } from './fsutil.ts';

export class NonceStore {
  private last: number;
  private readonly path: string;

  private constructor(path: string, last: number) {
    this.path = path;
    this.last = last;
  }

  static open(path: string): NonceStore {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new NonceStore(path, 0);
      throw e;
    }
    let last: unknown;
    try {
      last = JSON.parse(text).last;
    } catch {
      throw new SdkError('NONCE_FILE_INVALID', `${path} is not JSON`);
    }
    if (typeof last !== 'number' || !Number.isSafeInteger(last) || last < 0) {
      throw new SdkError('NONCE_FILE_INVALID', `${path}: last must be a non-negative integer`);
    }
    return new NonceStore(path, last);
  }

  /** The last nonce assigned (0: none yet; the first transaction uses 1). */
  get lastAssigned(): number {
    return this.last;
  }

  /** Persists `nonce` as the last assigned one (never moves backwards unless `force`). */
  record(nonce: number, force = false): void {
    if (!Number.isSafeInteger(nonce) || nonce < 0)
      throw new RangeError('nonce must be a non-negative integer');
    if (!force && nonce <= this.last) return;
    writeFileAtomic(this.path, JSON.stringify({ last: nonce }) + '\n');
    this.last = nonce;
  }
}
