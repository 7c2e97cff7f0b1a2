// A network of n validator processes on loopback for the real benchmarks: homes with deterministic keys,
// optional p2p faults (VIGIL_FAULTS, read by the validator), load devices enrolled through the API, and
// the load generator of sensor-client/src/load used as a library (one generator, not a second one).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, freePorts } from '@vigil/node/testing/ports.ts';
import { ProcessNetwork, type ValidatorProcess } from '@vigil/node/testing/process-network.ts';
import { createNetworkHomes } from '@vigil/node/validator/network-homes.ts';
import { buildCorpusParallel, type Corpus, loadDevices } from '@vigil/sensor-client/load/corpus.ts';
import { type LoadResult, runLoad } from '@vigil/sensor-client/load/runner.ts';
import { buildSchedule, type ScheduledBatch } from '@vigil/sensor-client/load/schedule.ts';
import { NodeClient } from '@vigil/sensor-client/sdk/api-client.ts';
import { enrolDevice } from '@vigil/sensor-client/sdk/registration.ts';
import { toHex } from '@vigil/sensor-client/util/hex.ts';
import { BenchError } from '../errors.ts';
import { type SettleResult, settle } from './settle.ts';
import { BENCH_STATE_ROOT_INTERVAL } from '../suite-plan.ts';

export interface LinkFaults {
  latencyMs?: number;
  jitterMs?: number;
  loss?: number;
}

export interface BenchNetworkOptions {
  n: number;
  faults?: LinkFaults;
  /** Consensus parameters written to genesis (the rest are the node's defaults). */
  viewChangeTimeoutMs?: number;
  /** The chain's state-root interval k (ADR 0117); default BENCH_STATE_ROOT_INTERVAL. */
  stateRootInterval?: number;
  /** Blocks store and commit to their effects records (ADR 0133); default true, as `vigil genesis`. */
  blockEffects?: boolean;
  /** Blocks write their receipts root to the state (ADR 0123); default true, as `vigil genesis`. */
  receiptsRoots?: boolean;
  seed: number;
  /** Extra environment for validator processes (e.g. NODE_OPTIONS=--cpu-prof). */
  env?: Record<string, string>;
}

export interface LoadPointConfig {
  rate: number;
  durationS: number;
  warmupS: number;
  drainS: number;
  batchSize: number;
  /** Send only to these validators (by index); default all running ones. */
  targets?: readonly number[];
  /** Which validator's event feed timestamps commits (default the first target). */
  eventsNode?: number;
}

export interface PreparedLoad {
  cfg: Parameters<typeof runLoad>[0];
  schedule: ScheduledBatch[];
  corpus: Corpus;
  /** Planned start (epoch ms) the transactions' timestamps count from. */
  startMs: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const wallClock = { now: () => performance.now(), sleep };

/** Epoch time (the planned start of a load is an epoch time) next to the monotonic clock. */
export interface StartClock {
  epochNow(): number;
  now(): number;
  sleep(ms: number): Promise<void>;
}
export const startClock: StartClock = { epochNow: () => Date.now(), now: () => performance.now(), sleep };

/**
 * Waits for a prepared load's planned start, then takes `atStart` (the "before" samples of CPU and
 * storage) and runs the load, returning the monotonic wall time from the samples to the load's end.
 * The planned start lies after the pre-signing's estimated time plus a margin, so the validators idle
 * for ~0.5-1 s after signing; with the samples taken before that wait, the idle time was part of the
 * window and diluted "CPU cores busy" (and the CPU per transaction derived from it) by several per
 * cent in a quick run's 6 s points.
 */
export async function atPlannedStart<S, T>(
  startMs: number,
  atStart: () => S,
  run: () => Promise<T>,
  clock: StartClock = startClock,
): Promise<{ started: S; result: T; wallMs: number }> {
  for (let w = startMs - clock.epochNow(); w > 0; w = startMs - clock.epochNow()) await clock.sleep(w);
  const started = atStart();
  const t0 = clock.now();
  const result = await run();
  return { started, result, wallMs: clock.now() - t0 };
}

export class BenchNetwork {
  readonly n: number;
  readonly dir: string;
  readonly net: ProcessNetwork;
  readonly chainId: string;
  readonly seed: number;
  readonly env: Record<string, string>;
  devices = 0;
  /** Transactions of earlier runs not seen committed, for settle() to resend. */
  #leftovers: Uint8Array[] = [];
  /** Wall time from spawning the processes to a full mesh. */
  startupMs = 0;

  private constructor(
    n: number,
    dir: string,
    net: ProcessNetwork,
    chainId: string,
    seed: number,
    env: Record<string, string>,
  ) {
    this.n = n;
    this.dir = dir;
    this.net = net;
    this.chainId = chainId;
    this.seed = seed;
    this.env = env;
  }

  static async start(o: BenchNetworkOptions): Promise<BenchNetwork> {
    const dir = mkdtempSync(join(tmpdir(), `vigil-bench-n${o.n}-`));
    const ports = await freePorts(2 * o.n);
    const chainId = `vigil-bench-${o.n}`;
    const homes = createNetworkHomes({
      dir,
      validators: o.n,
      chainId,
      p2pPorts: ports.slice(0, o.n),
      apiPorts: ports.slice(o.n),
      seedLabel: `bench-${o.seed}`,
      consensus: {
        ...(o.viewChangeTimeoutMs !== undefined ? { viewChangeTimeoutMs: o.viewChangeTimeoutMs } : {}),
        stateRootInterval: o.stateRootInterval ?? BENCH_STATE_ROOT_INTERVAL,
        ...(o.blockEffects !== undefined ? { blockEffects: o.blockEffects } : {}),
        ...(o.receiptsRoots !== undefined ? { receiptsRoots: o.receiptsRoots } : {}),
      },
    });
    const env: Record<string, string> = { VIGIL_LOG_LEVEL: 'warn', ...(o.env ?? {}) };
    if (o.faults !== undefined) env.VIGIL_FAULTS = JSON.stringify({ ...o.faults, seed: o.seed });
    const net = new ProcessNetwork(homes.homes);
    const b = new BenchNetwork(o.n, dir, net, chainId, o.seed, env);
    net.startAll(env);
    const t0 = performance.now();
    if (!(await net.waitReady(60_000))) {
      await b.stop();
      throw new BenchError('NETWORK_NOT_READY', `${o.n} validators did not answer within 60 s`);
    }
    const meshed = await eventually(
      async () => (await net.statuses()).every((s) => s?.peers.filter((p) => p.connected).length === o.n - 1),
      60_000,
      200,
    );
    b.startupMs = performance.now() - t0;
    if (!meshed) {
      await b.stop();
      throw new BenchError('NETWORK_NOT_READY', `${o.n} validators did not form a full mesh within 60 s`);
    }
    return b;
  }

  get nodes(): ValidatorProcess[] {
    return this.net.nodes;
  }

  urls(indices?: readonly number[]): string[] {
    const all = this.net.nodes.map((v) => v.apiUrl);
    return indices === undefined ? all : indices.map((i) => all[i]!);
  }

  running(): number[] {
    return this.net.nodes.filter((v) => v.running).map((v) => v.index);
  }

  /** Enrols `count` load devices (patient self-registration + bindDevice) and waits for them to commit. */
  async enrolDevices(count: number): Promise<void> {
    const client = new NodeClient({ nodes: this.urls(), maxRounds: 3 });
    const ids: string[] = [];
    for (const d of loadDevices(this.seed, count)) {
      const r = await enrolDevice(client, {
        chainId: this.chainId,
        registrar: d.patientSigner,
        patient: d.patientSigner.publicKey,
        device: d.signer.publicKey,
        now: Date.now(),
        register: true,
      });
      if (!r.bindDevice.ok) throw new BenchError('ENROL_FAILED', `device ${d.index}: ${r.bindDevice.code}`);
      ids.push(r.bindDevice.id);
    }
    const ok = await eventually(
      async () => {
        for (const id of ids.slice(-8)) {
          const st = await client.txStatus(id);
          if (st.status !== 'committed') return false;
        }
        return true;
      },
      60_000,
      200,
    );
    if (!ok) throw new BenchError('ENROL_FAILED', 'device bindings did not commit within 60 s');
    this.devices = count;
  }

  /** Pre-signs a load point's corpus (not measured), continuing each device's nonce sequence. */
  async prepareLoad(p: LoadPointConfig, workers: number): Promise<PreparedLoad> {
    const targets = p.targets ?? this.running();
    const nodes = this.urls(targets);
    const cfg = {
      rate: p.rate,
      batchSize: p.batchSize,
      durationMs: (p.warmupS + p.durationS) * 1000,
      warmupMs: p.warmupS * 1000,
      drainMs: p.drainS * 1000,
      nodes,
      eventsNode: p.eventsNode ?? 0,
    };
    const schedule = buildSchedule(cfg);
    const client = new NodeClient({ nodes, maxRounds: 3 });
    const firstNonces: number[] = [];
    for (const d of loadDevices(this.seed, this.devices)) {
      const acc = await client.account(toHex(d.signer.publicKey));
      firstNonces.push(Math.max(acc.nonce, acc.pendingNonce) + 1);
    }
    // Transaction timestamps are the intended send times from the planned start (corpus.ts), and a node
    // will not order a transaction stamped in its future, so the run must begin at that planned start:
    // plan it after the expected signing time (~2,500 signatures/s per thread on this class of machine,
    // measured) and wait for it after signing.
    const total = schedule.reduce((n, b) => n + b.count, 0);
    const startMs = Date.now() + 500 + Math.ceil((total / (2_500 * Math.max(1, workers))) * 1000);
    const corpus = await buildCorpusParallel(
      {
        chainId: this.chainId,
        seed: this.seed,
        devices: this.devices,
        nodes: nodes.length,
        rate: p.rate,
        startMs,
        firstNonces,
      },
      schedule,
      workers,
    );
    return { cfg, schedule, corpus, startMs };
  }

  async runLoad(prepared: PreparedLoad): Promise<LoadResult> {
    const wait = prepared.startMs - Date.now();
    if (wait > 0) await sleep(wait);
    const r = await runLoad(prepared.cfg, prepared.schedule, prepared.corpus, wallClock);
    this.#leftovers = [...this.#leftovers, ...r.uncommittedTxs];
    return r;
  }

  /** Transactions waiting in each running validator's mempool (undefined: it did not answer). */
  async backlog(): Promise<(number | undefined)[]> {
    const s = await this.net.statuses();
    return this.running().map((i) => s[i]?.mempool.size);
  }

  /** Brings the network back to idle before a load point (settle.ts): resends, waits for empty pools. */
  async settle(boundMs: number): Promise<SettleResult> {
    const r = await settle(
      { backlog: () => this.backlog(), urls: () => this.urls(this.running()) },
      this.#leftovers,
      boundMs,
      wallClock,
    );
    if (r.idle) this.#leftovers = [];
    return r;
  }

  /** Highest committed height over the running validators. */
  async height(): Promise<number> {
    const s = await this.net.statuses();
    return Math.max(0, ...s.map((x) => x?.height ?? 0));
  }

  async stop(): Promise<void> {
    await this.net.stopAll();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
