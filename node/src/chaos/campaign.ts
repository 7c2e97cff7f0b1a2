// A fault campaign on a real network (in the spirit of CometBFT's e2e perturbations and Jepsen):
// validators as separate processes under client load; a seeded schedule of faults — SIGKILL and
// restart, SIGSTOP/SIGCONT pauses, the primary killed again and again, partitions and heals, one-way
// link cuts, added latency and loss through the p2p fault layer, a full-cluster crash and restart —
// while a client records every transaction it was told was committed. At the end: recovery of every
// node, then an audit of the data directories themselves (audit.ts).
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { encodeBody } from '@vigil/consensus/wire/bodies/index.ts';
import {
  encodeTransaction,
  sha256,
  signerFromSeed,
  signTransaction,
  TxType,
  transactionId,
} from '@vigil/consensus/wire';
import { type Rng, seededRng } from '@vigil/p2p';
import { freePorts } from '../testing/ports.ts';
import { ProcessNetwork, type ValidatorProcess } from '../testing/process-network.ts';
import { homePaths } from '../validator/home.ts';
import { createNetworkHomes } from '../validator/network-homes.ts';
import { type AuditResult, audit, readChain } from './audit.ts';

export type FaultKind =
  | 'kill'
  | 'pause'
  | 'kill-primary'
  | 'partition'
  | 'one-way-cut'
  | 'latency-loss'
  | 'cluster-crash'
  | 'disk-full';

export interface CampaignOptions {
  dir: string;
  seed: number;
  durationMs: number;
  validators: number;
  /** Client transactions per second. */
  rate: number;
  /** The chain's state-root interval k (ADR 0117); default 1. */
  stateRootInterval?: number;
  log?: (line: string) => void;
}

export interface FaultRecord {
  kind: FaultKind;
  atMs: number;
  healedAtMs?: number;
  targets: number[];
  detail?: string;
}

export interface TimelinePoint {
  atMs: number;
  heights: (number | null)[];
  views: (number | null)[];
  confirmedTotal: number;
}

export interface CampaignReport extends AuditResult {
  seed: number;
  validators: number;
  /** The chain's state-root interval k (ADR 0117). */
  stateRootInterval: number;
  durationMs: number;
  faults: number;
  faultLog: FaultRecord[];
  submitted: number;
  /** Per node: ms from the last heal until it answered at the others' height (undefined: never). */
  recoveryMs: (number | null)[];
  recovered: boolean;
  /** Why the disk-full fault was not injected (it needs root to mount a small tmpfs), if it was not. */
  diskFaultSkipped?: string;
  /** The highest view any node reached: each view above 0 took at least one view change. */
  highestView: number;
  timeline: TimelinePoint[];
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A client that registers fresh patients and remembers which registrations it was told committed. */
class ConfirmingClient {
  readonly confirmed: string[] = [];
  submitted = 0;
  #seq = 0;
  readonly #chainId: string;
  readonly #label: string;
  #inflight = new Set<Promise<void>>();

  constructor(chainId: string, seed: number) {
    this.#chainId = chainId;
    this.#label = `chaos-${seed}`;
  }

  send(node: ValidatorProcess): void {
    const patient = signerFromSeed(sha256(new TextEncoder().encode(`${this.#label}/patient-${this.#seq++}`)));
    const tx = signTransaction(
      {
        version: 1,
        chainId: this.#chainId,
        type: TxType.registerPatient,
        sender: patient.publicKey,
        nonce: 1,
        timestamp: Date.now(),
        body: encodeBody({ type: 20, patient: patient.publicKey }),
      },
      patient,
    );
    const id = hex(transactionId(tx));
    this.submitted++;
    const p = fetch(`${node.apiUrl}/v1/transactions?wait=commit&timeoutMs=20000`, {
      method: 'POST',
      headers: { 'content-type': 'application/cbor' },
      body: new Uint8Array(encodeTransaction(tx)),
      signal: AbortSignal.timeout(25_000),
    })
      .then(async (res) => {
        const body = (await res.json().catch(() => ({}))) as { status?: string };
        if (res.status === 200 && body.status === 'committed') this.confirmed.push(id);
      })
      .catch(() => undefined) // a node that died mid-request told the client nothing
      .finally(() => this.#inflight.delete(p));
    this.#inflight.add(p);
  }

  async drain(): Promise<void> {
    await Promise.all([...this.#inflight]);
  }
}

async function control(port: number, command: object): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/faults`, {
      method: 'POST',
      body: JSON.stringify(command),
      signal: AbortSignal.timeout(2_000),
    });
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * A validator whose disk fills up: its data directory lives on a small tmpfs (root only), and the
 * fault fills that file system with a ballast file. LevelDB's writes then fail with ENOSPC and the
 * node stops (crash-only); healing removes the ballast and restarts it.
 */
class SmallDisk {
  readonly mountpoint: string;
  constructor(mountpoint: string) {
    this.mountpoint = mountpoint;
  }
  static tryMount(dir: string): SmallDisk | string {
    if (process.getuid?.() !== 0) return 'not running as root (a tmpfs mount is needed)';
    try {
      mkdirSync(dir, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256m', 'tmpfs', dir], { stdio: 'ignore' });
      return new SmallDisk(dir);
    } catch (e) {
      return `mount failed: ${(e as Error).message}`;
    }
  }
  fill(): void {
    const fd = openSync(join(this.mountpoint, 'ballast'), 'w');
    const chunk = Buffer.alloc(1 << 20);
    try {
      for (;;) writeSync(fd, chunk);
    } catch {
      // ENOSPC: full
    } finally {
      closeSync(fd);
    }
  }
  free(): void {
    rmSync(join(this.mountpoint, 'ballast'), { force: true });
  }
  unmount(): void {
    try {
      execFileSync('umount', [this.mountpoint], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
const between = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo));

export async function runCampaign(o: CampaignOptions): Promise<CampaignReport> {
  const log = o.log ?? (() => {});
  const rng = seededRng(o.seed);
  const n = o.validators;
  const f = Math.floor((n - 1) / 3);
  mkdirSync(o.dir, { recursive: true });
  const ports = await freePorts(3 * n);
  const p2pPorts = ports.slice(0, n);
  const apiPorts = ports.slice(n, 2 * n);
  const controlPorts = ports.slice(2 * n);
  const net0 = createNetworkHomes({
    dir: o.dir,
    validators: n,
    chainId: `vigil-chaos-${o.seed}`,
    p2pPorts,
    apiPorts,
    seedLabel: `chaos-${o.seed}`,
    consensus: {
      viewChangeTimeoutMs: 1_000,
      checkpointInterval: 16,
      windowSize: 64,
      stateRootInterval: o.stateRootInterval ?? 1,
    },
  });
  const keys = net0.genesis.validators.map((v) => v.publicKey);
  // The last validator's data directory sits on a small disk that one fault fills up.
  const diskNode = n - 1;
  const disk = SmallDisk.tryMount(join(net0.homes[diskNode]!, 'data'));
  const net = new ProcessNetwork(net0.homes);
  const envOf = (i: number) => ({ VIGIL_LOG_LEVEL: 'warn', VIGIL_FAULT_CONTROL: String(controlPorts[i]) });
  try {
    return await campaign();
  } finally {
    await net.stopAll();
    if (disk instanceof SmallDisk) {
      disk.free();
      disk.unmount();
    }
  }

  async function campaign(): Promise<CampaignReport> {
    for (const [i, node] of net.nodes.entries()) node.start(envOf(i));
    const t0 = Date.now();
    const at = () => Date.now() - t0;
    if (!(await net.waitReady(60_000))) throw new Error('the validators did not start');

    const client = new ConfirmingClient(net0.genesis.chainId, o.seed);
    const faultLog: FaultRecord[] = [];
    const timeline: TimelinePoint[] = [];
    const down = new Set<number>(); // killed, paused or partitioned away: at most f at a time
    const paused = new Set<number>();
    let maxView = 0;
    let lastHealAt = 0;
    let running = true;

    const sampler = (async () => {
      while (running) {
        const s = await net.statuses();
        for (const x of s) if (x) maxView = Math.max(maxView, x.view);
        timeline.push({
          atMs: at(),
          heights: s.map((x) => x?.height ?? null),
          views: s.map((x) => x?.view ?? null),
          confirmedTotal: client.confirmed.length,
        });
        await sleep(1_000);
      }
    })();
    const loader = (async () => {
      const every = 1_000 / o.rate;
      let next = Date.now();
      while (running) {
        const live = net.nodes.filter((x, i) => x.running && !down.has(i));
        if (live.length > 0) client.send(pick(rng, live));
        next += every;
        await sleep(Math.max(0, next - Date.now()));
      }
    })();

    const primaryIndex = async (): Promise<number | undefined> => {
      for (const x of await net.statuses()) if (x) return x.primary;
      return undefined;
    };
    const heal = async (rec: FaultRecord, action: () => Promise<void>) => {
      await action();
      rec.healedAtMs = at();
      lastHealAt = Date.now();
      for (const i of rec.targets) down.delete(i);
      log(`${(rec.healedAtMs / 1000).toFixed(1)}s  healed ${rec.kind} ${rec.targets.join(',')}`);
    };

    const kinds: FaultKind[] = ['kill', 'pause', 'kill-primary', 'partition', 'one-way-cut', 'latency-loss'];
    if (disk instanceof SmallDisk) kinds.push('disk-full');
    let clusterCrashDone = false;
    const faultsEndAt = o.durationMs - 15_000;
    const healers: Promise<void>[] = [];
    await sleep(3_000);
    while (at() < faultsEndAt) {
      const wantCrash = !clusterCrashDone && at() > o.durationMs / 2 && down.size === 0;
      const kind: FaultKind = wantCrash ? 'cluster-crash' : pick(rng, kinds);
      const budget = f - down.size;
      const upIdx = net.nodes.map((_, i) => i).filter((i) => !down.has(i));
      const rec: FaultRecord = { kind, atMs: at(), targets: [] };
      const holdMs = between(rng, 2_000, 7_000);
      if (kind === 'cluster-crash') {
        clusterCrashDone = true;
        rec.targets = net.nodes.map((_, i) => i);
        for (const i of rec.targets) down.add(i);
        await Promise.all(net.nodes.map((x) => x.signal('SIGKILL')));
        faultLog.push(rec);
        log(`${(rec.atMs / 1000).toFixed(1)}s  cluster crash`);
        healers.push(
          sleep(2_000).then(() =>
            heal(rec, async () => {
              for (const [i, x] of net.nodes.entries()) x.start(envOf(i));
            }),
          ),
        );
      } else if (kind === 'latency-loss') {
        rec.detail = 'latency 50ms ± 20ms, loss 2% on every link';
        await Promise.all(
          controlPorts.map((p) =>
            control(p, { op: 'setDefault', fault: { latencyMs: 50, jitterMs: 20, loss: 0.02 } }),
          ),
        );
        faultLog.push(rec);
        healers.push(
          sleep(holdMs).then(() =>
            heal(
              rec,
              async () => void (await Promise.all(controlPorts.map((p) => control(p, { op: 'reset' })))),
            ),
          ),
        );
      } else if (kind === 'one-way-cut') {
        const [a, b] = [pick(rng, upIdx), pick(rng, upIdx)];
        if (a === b) continue;
        rec.targets = [];
        rec.detail = `${a} -> ${b}`;
        await Promise.all([
          control(controlPorts[a]!, { op: 'cut', from: keys[a], to: keys[b] }),
          control(controlPorts[b]!, { op: 'cut', from: keys[a], to: keys[b] }),
        ]);
        faultLog.push(rec);
        healers.push(
          sleep(holdMs).then(() =>
            heal(rec, async () => {
              await Promise.all([
                control(controlPorts[a]!, { op: 'restore', from: keys[a], to: keys[b] }),
                control(controlPorts[b]!, { op: 'restore', from: keys[a], to: keys[b] }),
              ]);
            }),
          ),
        );
      } else {
        if (budget <= 0) {
          await sleep(1_000);
          continue;
        }
        let target: number | undefined;
        if (kind === 'disk-full') {
          target = diskNode;
          if (down.has(target)) continue;
        } else if (kind === 'kill-primary') {
          target = await primaryIndex();
          if (target === undefined || down.has(target)) continue;
        } else target = pick(rng, upIdx);
        rec.targets = [target];
        down.add(target);
        faultLog.push(rec);
        log(`${(rec.atMs / 1000).toFixed(1)}s  ${kind} ${target}`);
        const node = net.nodes[target]!;
        if (kind === 'kill' || kind === 'kill-primary') {
          await node.signal('SIGKILL');
          healers.push(sleep(holdMs).then(() => heal(rec, async () => node.start(envOf(target)))));
        } else if (kind === 'disk-full' && disk instanceof SmallDisk) {
          rec.detail = 'data directory on a full 256 MiB tmpfs';
          disk.fill();
          healers.push(
            sleep(holdMs).then(() =>
              heal(rec, async () => {
                disk.free();
                // The node stops itself on ENOSPC (crash-only); if it is still up, it restarts anyway.
                await node.stop();
                node.start(envOf(target));
              }),
            ),
          );
        } else if (kind === 'pause') {
          await node.signal('SIGSTOP');
          paused.add(target);
          healers.push(
            sleep(holdMs).then(() =>
              heal(rec, async () => {
                paused.delete(target);
                await node.signal('SIGCONT');
              }),
            ),
          );
        } else if (kind === 'partition') {
          const minority = [keys[target]!];
          const majority = keys.filter((_, i) => i !== target);
          rec.detail = `node ${target} isolated`;
          await Promise.all(
            controlPorts.map((p) => control(p, { op: 'partition', groups: [minority, majority] })),
          );
          healers.push(
            sleep(holdMs).then(() =>
              heal(
                rec,
                async () => void (await Promise.all(controlPorts.map((p) => control(p, { op: 'heal' })))),
              ),
            ),
          );
        }
      }
      await sleep(between(rng, 3_000, 8_000));
    }
    await Promise.all(healers);
    // Anything still down comes back now.
    for (const i of paused) await net.nodes[i]!.signal('SIGCONT');
    net.nodes.forEach((x, i) => {
      if (!x.running) x.start(envOf(i));
    });
    await Promise.all(controlPorts.map((p) => control(p, { op: 'reset' })));
    lastHealAt = Date.now();

    // Recovery: every node answers again and reaches the others' height within 20 s of its last fault.
    const recoveryMs: (number | null)[] = new Array(n).fill(null);
    const deadline = lastHealAt + 20_000;
    while (Date.now() < deadline && recoveryMs.some((x) => x === null)) {
      const s = await net.statuses();
      const top = Math.max(...s.map((x) => x?.height ?? 0));
      s.forEach((x, i) => {
        if (recoveryMs[i] === null && x && x.height >= top - 1) recoveryMs[i] = Date.now() - lastHealAt;
      });
      await sleep(250);
    }
    running = false;
    await Promise.all([sampler, loader]);
    await client.drain();
    // Let the last confirmed blocks reach every node before stopping.
    await sleep(2_000);
    await net.stopAll();
    if (disk instanceof SmallDisk) disk.free();

    const chains = await Promise.all(net0.homes.map((h) => readChain(h, homePaths(h).chainDb)));
    const result = audit(chains, client.confirmed);
    return {
      ...(typeof disk === 'string' ? { diskFaultSkipped: disk } : {}),
      ...result,
      seed: o.seed,
      validators: n,
      stateRootInterval: o.stateRootInterval ?? 1,
      durationMs: at(),
      faults: faultLog.length,
      faultLog,
      submitted: client.submitted,
      recoveryMs,
      recovered: recoveryMs.every((x) => x !== null),
      highestView: maxView,
      timeline,
    };
  }
}
