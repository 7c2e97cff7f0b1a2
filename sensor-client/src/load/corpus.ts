// The load generator's pre-signed corpus, built before the run: signing costs CPU that the validators
// on the same machine need, and signing during the run would also make the offered rate depend on the
// generator's CPU. Every transaction is a real submitReadings batch (a full set of simulated vitals).
//
// Nonce order: a node only executes a device's nonce n+1 after n, and concurrent HTTP requests can
// overtake each other. So devices are split into lanes, one per node, and batch b goes to lane b mod N:
// each device's transactions always go to the same node, in send order.
//
// Building is split into a cheap deterministic plan (which device, nonce and time each transaction
// gets) and the expensive signing of ranges of it, which corpus-worker.ts runs on worker threads.

import type { Signer } from '@vigil/consensus/wire';
import { buildSubmitReadings } from '../sdk/transactions.ts';
import { makePatient, type PatientProfile, sampleToReadings, sampleVitals } from '../sim/physiology.ts';
import { Rng } from '../sim/prng.ts';
import { nodeSignerFromSeed } from './node-signer.ts';
import type { ScheduledBatch } from './schedule.ts';

export interface CorpusOptions {
  chainId: string;
  seed: number;
  devices: number;
  nodes: number;
  /** Tx timestamp and measurement times start here (epoch ms): the planned start of the run. */
  startMs: number;
  /** Offered rate (tx/s), to give transaction i the timestamp startMs + i / rate. */
  rate: number;
  /** Next nonce per device index (from /v1/accounts); default 1 for all. */
  firstNonces?: readonly number[];
}

export interface LoadDevice {
  index: number;
  signer: Signer;
  patientSigner: Signer;
}

export interface CorpusBatch {
  /** Lane = index of the node this batch goes to. */
  node: number;
  txs: Uint8Array[];
  ids: string[];
}

export interface Corpus {
  devices: LoadDevice[];
  batches: CorpusBatch[];
  signMs: number;
  workers: number;
}

interface PlannedTx {
  device: number;
  nonce: number;
  at: number;
}

export function loadDevices(seed: number, count: number): LoadDevice[] {
  return Array.from({ length: count }, (_, index) => {
    const rng = new Rng(seed, 0x30000 + index);
    return {
      index,
      signer: nodeSignerFromSeed(rng.bytes(32)),
      patientSigner: nodeSignerFromSeed(rng.bytes(32)),
    };
  });
}

/** Lane of device d with N nodes; each lane needs at least one device. */
export function laneOf(device: number, nodes: number): number {
  return device % nodes;
}

export function planCorpus(
  o: CorpusOptions,
  schedule: readonly ScheduledBatch[],
): { node: number; txs: PlannedTx[] }[] {
  if (o.devices < o.nodes) throw new RangeError('need at least one device per node');
  const lanes: number[][] = Array.from({ length: o.nodes }, () => []);
  for (let d = 0; d < o.devices; d++) lanes[laneOf(d, o.nodes)]!.push(d);
  const cursor = new Array<number>(o.nodes).fill(0);
  const nextNonce = Array.from({ length: o.devices }, (_, d) => o.firstNonces?.[d] ?? 1);
  // The chain requires each device's measurement times to increase strictly per kind
  // (READING_NOT_INCREASING), and every transaction carries one full set at one time.
  const lastAt = new Array<number>(o.devices).fill(Number.NEGATIVE_INFINITY);
  return schedule.map((b) => {
    const node = b.index % o.nodes;
    const lane = lanes[node]!;
    const txs: PlannedTx[] = [];
    for (let j = 0; j < b.count; j++) {
      const device = lane[cursor[node]!++ % lane.length]!;
      // Transaction i's intended time (ms), made strictly increasing per device.
      const at = Math.max(o.startMs + Math.floor(((b.firstTx + j) * 1000) / o.rate), lastAt[device]! + 1);
      lastAt[device] = at;
      txs.push({ device, nonce: nextNonce[device]!++, at });
    }
    return { node, txs };
  });
}

/** Signs planned batches [from, to). */
export function signPlanned(
  o: CorpusOptions,
  plan: readonly { node: number; txs: PlannedTx[] }[],
  from: number,
  to: number,
  devices: readonly LoadDevice[] = loadDevices(o.seed, o.devices),
): CorpusBatch[] {
  const patient: PatientProfile = makePatient(o.seed, 0);
  const out: CorpusBatch[] = [];
  for (let b = from; b < to; b++) {
    const p = plan[b]!;
    const txs: Uint8Array[] = [];
    const ids: string[] = [];
    for (const x of p.txs) {
      const d = devices[x.device]!;
      const signed = buildSubmitReadings(
        { chainId: o.chainId, signer: d.signer, nonce: x.nonce, timestamp: x.at },
        d.patientSigner.publicKey,
        sampleToReadings(sampleVitals(patient, x.at)),
      );
      txs.push(signed.bytes);
      ids.push(signed.idHex);
    }
    out.push({ node: p.node, txs, ids });
  }
  return out;
}

/** Single-threaded build (tests, small corpora). */
export function buildCorpus(
  o: CorpusOptions,
  schedule: readonly ScheduledBatch[],
  now: () => number = Date.now,
): Corpus {
  const t0 = now();
  const plan = planCorpus(o, schedule);
  const devices = loadDevices(o.seed, o.devices);
  const batches = signPlanned(o, plan, 0, plan.length, devices);
  return { devices, batches, signMs: now() - t0, workers: 1 };
}

/** Builds the corpus on `workers` threads (corpus-worker.ts); identical output to buildCorpus. */
export async function buildCorpusParallel(
  o: CorpusOptions,
  schedule: readonly ScheduledBatch[],
  workers: number,
  now: () => number = Date.now,
): Promise<Corpus> {
  if (workers <= 1) return buildCorpus(o, schedule, now);
  const { Worker } = await import('node:worker_threads');
  const t0 = now();
  const plan = planCorpus(o, schedule);
  const per = Math.ceil(plan.length / workers);
  const parts = await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const from = Math.min(plan.length, w * per);
      const to = Math.min(plan.length, from + per);
      return new Promise<CorpusBatch[]>((resolve, reject) => {
        const worker = new Worker(new URL('./corpus-worker.ts', import.meta.url), {
          workerData: { o, plan: plan.slice(from, to) },
        });
        worker.once('message', (m: CorpusBatch[]) => resolve(m));
        worker.once('error', reject);
        worker.once('exit', (code) => {
          if (code !== 0) reject(new Error(`corpus worker exited with ${code}`));
        });
      });
    }),
  );
  return { devices: loadDevices(o.seed, o.devices), batches: parts.flat(), signMs: now() - t0, workers };
}
