// Signature verification on every core: a fixed set of worker_threads, each fed large packed batches
// (hundreds of checks per postMessage, buffers transferred), so one node validates at the speed of all
// its cores while the main thread keeps executing blocks and serving I/O.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { fastVerifier } from '../crypto/fast-verifier.ts';
import { isWellSized, packChecks } from './packing.ts';
import type { BatchVerifier, SignatureCheck } from './types.ts';
import type { VerifyRequest, VerifyResponse } from './worker.ts';

export class VerifyPoolError extends Error {
  readonly code: 'POOL_CLOSED' | 'WORKER_FAILED';
  constructor(code: 'POOL_CLOSED' | 'WORKER_FAILED', message: string) {
    super(`${code}: ${message}`);
    this.name = 'VerifyPoolError';
    this.code = code;
  }
}

export interface VerifyPoolOptions {
  /** Worker threads; default os.availableParallelism(). */
  size?: number;
  /** Batches smaller than this are verified on the calling thread (a round trip costs ~50 checks). */
  inlineBelow?: number;
  /** Largest number of checks in one message to one worker. */
  maxChunk?: number;
}

interface Pending {
  resolve: (r: Uint8Array) => void;
  reject: (e: Error) => void;
  worker: Worker;
}

const WORKER_URL = new URL('./worker.ts', import.meta.url);

export class VerifyPool implements BatchVerifier {
  readonly size: number;
  readonly #inlineBelow: number;
  readonly #maxChunk: number;
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, Pending>();
  /** Settles once a worker is running (or has exited): cpuUsage() refuses a worker not yet online. */
  readonly #started = new WeakMap<Worker, Promise<unknown>>();
  #nextId = 1;
  #next = 0;
  #closed = false;

  constructor(options: VerifyPoolOptions = {}) {
    this.size = Math.max(1, options.size ?? availableParallelism());
    this.#inlineBelow = options.inlineBelow ?? 16;
    this.#maxChunk = options.maxChunk ?? 2048;
    for (let i = 0; i < this.size; i++) this.#workers.push(this.#spawn());
  }

  #spawn(): Worker {
    const w = new Worker(WORKER_URL);
    this.#started.set(
      w,
      new Promise((resolve) => {
        w.once('online', resolve);
        w.once('exit', resolve);
      }),
    );
    w.on('message', (res: VerifyResponse) => {
      const p = this.#pending.get(res.id);
      if (p === undefined) return;
      this.#pending.delete(res.id);
      p.resolve(res.results);
    });
    w.on('error', (err) => this.#fail(w, err));
    w.on('exit', (code) => {
      if (!this.#closed) this.#fail(w, new Error(`worker exited with code ${code}`));
    });
    // Idle workers must not keep the process alive.
    w.unref();
    return w;
  }

  /** A worker died: fail its in-flight batches and replace it. */
  #fail(w: Worker, err: Error): void {
    for (const [id, p] of this.#pending) {
      if (p.worker === w) {
        this.#pending.delete(id);
        p.reject(new VerifyPoolError('WORKER_FAILED', err.message));
      }
    }
    const i = this.#workers.indexOf(w);
    if (i >= 0 && !this.#closed) {
      this.#workers[i] = this.#spawn();
      void w.terminate();
    }
  }

  #send(checks: readonly SignatureCheck[]): Promise<Uint8Array> {
    const worker = this.#workers[this.#next++ % this.#workers.length]!;
    const id = this.#nextId++;
    const buffer = packChecks(checks);
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, worker });
      // Keep the process alive while a batch is in flight.
      worker.ref();
      const req: VerifyRequest = { id, buffer };
      worker.postMessage(req, [buffer]);
    }).finally(() => {
      if (![...this.#pending.values()].some((p) => p.worker === worker)) worker.unref();
    }) as Promise<Uint8Array>;
  }

  async verifyBatch(checks: readonly SignatureCheck[]): Promise<boolean[]> {
    if (this.#closed) throw new VerifyPoolError('POOL_CLOSED', 'the verify pool is closed');
    const out = new Array<boolean>(checks.length).fill(false);
    const idx: number[] = [];
    checks.forEach((c, i) => {
      if (isWellSized(c)) idx.push(i);
    });
    if (idx.length < this.#inlineBelow) {
      for (const i of idx)
        out[i] = fastVerifier.verify(checks[i]!.signature, checks[i]!.message, checks[i]!.publicKey);
      return out;
    }
    // One chunk per worker (so all cores work on this batch), capped at maxChunk checks per message.
    const per = Math.min(this.#maxChunk, Math.ceil(idx.length / this.size));
    const jobs: Promise<void>[] = [];
    for (let start = 0; start < idx.length; start += per) {
      const part = idx.slice(start, start + per);
      jobs.push(
        this.#send(part.map((i) => checks[i]!)).then((results) => {
          part.forEach((i, k) => {
            out[i] = results[k] === 1;
          });
        }),
      );
    }
    await Promise.all(jobs);
    return out;
  }

  /**
   * CPU time (user + system, microseconds) the pool's current workers have used since they started
   * (worker.cpuUsage, Node >= 24.6): for benchmarks and metrics. A worker that was replaced after a
   * failure no longer counts.
   */
  async cpuMicros(): Promise<number> {
    const workers = [...this.#workers];
    // Idle workers are unref'd; the answer comes from them, so keep the process alive until it does.
    for (const w of workers) w.ref();
    try {
      const usage = await Promise.all(
        workers.map(async (w) => {
          await this.#started.get(w);
          try {
            const u = await w.cpuUsage();
            return u.user + u.system;
          } catch {
            return 0; // exited meanwhile (replaced after a failure, or the pool closed)
          }
        }),
      );
      return usage.reduce((a, u) => a + u, 0);
    } finally {
      for (const w of workers) {
        if (![...this.#pending.values()].some((p) => p.worker === w)) w.unref();
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const [, p] of this.#pending) p.reject(new VerifyPoolError('POOL_CLOSED', 'the verify pool closed'));
    this.#pending.clear();
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
