// The machine's raw ed25519 verification rate on all cores: node:crypto verifying a packed batch in one
// worker thread per core, no messaging in the loop (raw-verify-worker.ts). Divided by the validators
// sharing the machine it is the physical ceiling every real throughput is compared with (issue 9), and
// `bench -- node` compares one node's execution with it (issue 4).
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import {
  decodeTransaction,
  encodeTransaction,
  signTransaction,
  TxType,
  transactionSigningBytes,
} from '@vigil/consensus/wire';
import { nodeCryptoSigner } from '@vigil/node/exec/testing.ts';
import { packChecks } from '@vigil/node/verify-pool/packing.ts';
import { BenchError } from './errors.ts';
import type { CeilingSample } from './record.ts';

export interface RawVerifyRate {
  perSecond: number;
  /** Thread CPU time per verification in the workers. */
  cpuUsPerSignature: number;
  /**
   * Public keys whose KeyObject was cached when the clock started, the fewest of any worker: the
   * workers verify the sample once untimed, so this is every distinct key of it (a warm verifier, as
   * in a validator).
   */
  keysCachedAtStart: number;
}

/** Verifies `sample` (encoded signed transactions) `rounds` times in each of `workers` threads. */
export async function rawVerifyRate(
  workers: number,
  sample: Uint8Array[],
  rounds: number,
): Promise<RawVerifyRate> {
  const checks = sample.map((bytes) => {
    const tx = decodeTransaction(bytes);
    return { signature: tx.signature, message: transactionSigningBytes(tx), publicKey: tx.sender };
  });
  const pool = Array.from(
    { length: workers },
    () =>
      new Worker(new URL('./raw-verify-worker.ts', import.meta.url), {
        workerData: { buffer: packChecks(checks), rounds },
      }),
  );
  try {
    await Promise.all(pool.map((w) => new Promise((r) => w.once('message', r))));
    const start = performance.now();
    const done = await Promise.all(
      pool.map(
        (w) =>
          new Promise<{ verified: number; ok: number; cpuUs: number; keysCachedAtStart: number }>((r) => {
            w.once('message', r);
            w.postMessage('go');
          }),
      ),
    );
    const seconds = (performance.now() - start) / 1000;
    if (done.some((d) => d.ok !== d.verified))
      throw new BenchError('RAW_VERIFY', 'raw verification rejected a valid signature');
    const verified = done.reduce((a, d) => a + d.verified, 0);
    return {
      perSecond: verified / seconds,
      cpuUsPerSignature: done.reduce((a, d) => a + d.cpuUs, 0) / verified,
      keysCachedAtStart: Math.min(...done.map((d) => d.keysCachedAtStart)),
    };
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
}

/** `count` distinct senders' signed transactions (the shape `bench -- node` verifies). */
export function signedSample(count: number, chainId = 'vigil-bench'): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => {
    const seed = new Uint8Array(32);
    new DataView(seed.buffer).setUint32(0, i);
    seed[31] = 0xc1;
    const s = nodeCryptoSigner(seed);
    return encodeTransaction(
      signTransaction(
        {
          version: 1,
          chainId,
          type: TxType.submitReadings,
          sender: s.publicKey,
          nonce: 1,
          timestamp: 1_700_000_000_000,
          body: [`device-${i}`, 1],
        },
        s,
      ),
    );
  });
}

/**
 * One ceiling sample: 1,000 transactions verified 4 times on every core, twice, averaged (~1-2 s). The
 * suite takes one before each real network and one at the end, so a moment of other load on a shared
 * machine moves one sample, not the whole run's ceiling (record.ts, ceilingFromSamples).
 */
export async function measureCeiling(label: string, sample = signedSample(1000)): Promise<CeilingSample> {
  const workers = availableParallelism();
  const runs = [await rawVerifyRate(workers, sample, 4), await rawVerifyRate(workers, sample, 4)];
  return {
    label,
    at: new Date().toISOString(),
    rawVerifyPerSec: (runs[0]!.perSecond + runs[1]!.perSecond) / 2,
    cpuUsPerSignature: (runs[0]!.cpuUsPerSignature + runs[1]!.cpuUsPerSignature) / 2,
  };
}
