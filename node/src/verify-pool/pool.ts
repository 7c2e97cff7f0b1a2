// Signature verification on every core: a fixed set of worker_threads, each fed large packed batches
// (hundreds of checks per postMessage, buffers transferred), so one node validates at the speed of all
// its cores while the main thread keeps executing blocks and serving I/O.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { fastVerifier } from '../crypto/fast-verifier.ts';
import { isWellSized, packChecks } from './packing.ts';
import type { BatchVerifier, SignatureCheck } from './types.ts';
import type { VerifyRequest, VerifyResponse, WorkerReady } from './worker.ts';

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
  /**
   * A worker with work outstanding that answers nothing for this long (ms) is taken for hung: it is
   * replaced and its work sent again. Default 10,000 (a full 2,048-check message takes well under a
   * second even on a slow, loaded core).
   */
  stallMs?: number;
  /** The worker script and its workerData (tests substitute a misbehaving worker). */
  workerUrl?: URL;
  workerData?: unknown;
}

interface Pending {
  resolve: (r: Uint8Array) => void;
  reject: (e: Error) => void;
  worker: Worker;
  /** Checks in the request: the answer must have exactly one byte per check. */
  count: number;
}

const WORKER_URL = new URL('./worker.ts', import.meta.url);
/** How long close() waits for each worker to confirm it stopped. */
const CLOSE_WAIT_MS = 2_000;

export class VerifyPool implements BatchVerifier {
  readonly size: number;
  readonly #inlineBelow: number;
  readonly #maxChunk: number;
  readonly #stallMs: number;
  readonly #workerUrl: URL;
  readonly #workerData: unknown;
  readonly #workers: Worker[] = [];
  /** Per worker with work outstanding: the timer that declares it hung if no answer comes first. */
  readonly #watchdogs = new Map<Worker, NodeJS.Timeout>();
  /**
   * Workers that said they are ready (their modules loaded, which takes a few hundred ms): the watchdog
   * does not count a worker's start-up as a stall.
   */
  readonly #online = new WeakSet<Worker>();
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
    this.#stallMs = options.stallMs ?? 10_000;
    this.#workerUrl = options.workerUrl ?? WORKER_URL;
    this.#workerData = options.workerData;
    for (let i = 0; i < this.size; i++) this.#workers.push(this.#spawn());
  }

  #spawn(): Worker {
    const w = new Worker(this.#workerUrl, { workerData: this.#workerData });
    this.#started.set(
      w,
      new Promise((resolve) => {
        w.once('online', resolve);
        w.once('exit', resolve);
      }),
    );
    w.on('message', (res: VerifyResponse | WorkerReady) => {
      if ('ready' in res) {
        this.#online.add(w);
        this.#watch(w, true);
        return;
      }
      const p = this.#pending.get(res?.id);
      // Only the worker a request went to answers it (a replaced worker's late answer is dropped).
      if (p === undefined || p.worker !== w) return;
      this.#pending.delete(res.id);
      this.#watch(w, true);
      // One byte per check, or the answer cannot be matched to the checks: never read a missing byte
      // as an answer. The request fails and is sent again; a worker that answers so is replaced.
      if (!(res.results instanceof Uint8Array) || res.results.length !== p.count) {
        const err = new Error(`answer of ${res.results?.length} bytes for ${p.count} checks`);
        p.reject(new VerifyPoolError('WORKER_FAILED', err.message));
        this.#fail(w, err);
        return;
      }
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

  /**
   * Keeps a watchdog on `w` while it has work outstanding. `progress`: it just answered, so the time
   * starts again; a new request alone does not restart it (a hung worker fed steadily stays detected).
   */
  #watch(w: Worker, progress: boolean): void {
    const timer = this.#watchdogs.get(w);
    const busy = [...this.#pending.values()].some((p) => p.worker === w);
    if (timer !== undefined && (progress || !busy)) {
      clearTimeout(timer);
      this.#watchdogs.delete(w);
    }
    if (busy && !this.#watchdogs.has(w) && !this.#closed && this.#online.has(w)) {
      const t = setTimeout(() => {
        this.#watchdogs.delete(w);
        this.#fail(w, new Error(`no answer for ${this.#stallMs} ms`));
      }, this.#stallMs);
      t.unref(); // the in-flight request keeps the process alive (worker.ref), not its watchdog
      this.#watchdogs.set(w, t);
    }
  }

  /** A worker died or hung: fail its in-flight batches (verifyBatch sends them again) and replace it. */
  #fail(w: Worker, err: Error): void {
    clearTimeout(this.#watchdogs.get(w));
    this.#watchdogs.delete(w);
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
      this.#pending.set(id, { resolve, reject, worker, count: checks.length });
      this.#watch(worker, false);
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
      const chunk = part.map((i) => checks[i]!);
      jobs.push(
        this.#send(chunk)
          // A worker that crashed or hung takes its requests down with it; once, they go to another
          // (a fresh) worker rather than fail the block or the admissions that asked. A second failure
          // is reported: never an answer that was not computed.
          .catch((e: unknown) => {
            if (e instanceof VerifyPoolError && e.code === 'WORKER_FAILED' && !this.#closed)
              return this.#send(chunk);
            throw e;
          })
          .then((results) => {
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
    for (const t of this.#watchdogs.values()) clearTimeout(t);
    this.#watchdogs.clear();
    for (const [, p] of this.#pending) p.reject(new VerifyPoolError('POOL_CLOSED', 'the verify pool closed'));
    this.#pending.clear();
    // Bounded: terminate() of a worker still loading its modules can fail to settle (seen with
    // replacements started just before close), and an idle worker is unref'd, so awaiting it alone
    // could hang close() or let the process exit under it. The timer keeps the wait alive and ends it.
    await Promise.all(
      this.#workers.map(async (w) => {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          w.terminate(),
          new Promise((r) => {
            timer = setTimeout(r, CLOSE_WAIT_MS);
          }),
        ]);
        clearTimeout(timer);
      }),
    );
  }
}
