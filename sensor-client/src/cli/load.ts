// npm run load -- --rate 3000 --duration 60 [--json] [--out file]
// Open-loop load generator against a running Vigil network (docs/sensor-client.md, "Load generator").
// 1. asks the first node for the chain id and each load device's next nonce;
// 2. optionally enrols the load devices (--register: patient self-registration + bindDevice);
// 3. pre-signs the whole corpus (worker threads) BEFORE the run;
// 4. sends application/cbor-seq batches at their intended times, round-robin over the nodes by lane;
// 5. timestamps commits from the first node's SSE feed; reports offered/achieved rates and latency
//    percentiles after the warm-up; --json prints the full record (config, git commit, machine, raw
//    samples) instead of the summary, --out also writes it to a file.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { NodeClient } from '../sdk/api-client.ts';
import { SdkError } from '../sdk/errors.ts';
import { enrolDevice } from '../sdk/registration.ts';
import { toHex } from '../util/hex.ts';
import { buildCorpus, buildCorpusParallel, loadDevices } from '../load/corpus.ts';
import { runLoad } from '../load/runner.ts';
import { buildSchedule, totalTransactions } from '../load/schedule.ts';
import { parseArgs, usage } from './args.ts';

const SPEC = {
  rate: { kind: 'number', default: 1000, help: 'offered load, transactions per second' },
  duration: { kind: 'number', default: 60, help: 'measured seconds (after the warm-up)' },
  warmup: { kind: 'number', default: 10, help: 'warm-up seconds, sent but excluded from statistics' },
  drain: { kind: 'number', default: 15, help: 'seconds to wait for outstanding commits after the last send' },
  batch: { kind: 'number', default: 50, help: 'transactions per HTTP request (application/cbor-seq)' },
  devices: { kind: 'number', default: 512, help: 'distinct device keys' },
  seed: { kind: 'number', default: 1, help: 'seed of device keys and readings' },
  nodes: { kind: 'string', default: 'http://127.0.0.1:7701', help: 'comma-separated node URLs' },
  workers: {
    kind: 'number',
    default: Math.max(1, os.availableParallelism()),
    help: 'threads for pre-signing',
  },
  register: { kind: 'flag', help: 'enrol the load devices first (registerPatient + bindDevice) and wait' },
  json: { kind: 'flag', help: 'print the full JSON record instead of the summary' },
  out: { kind: 'string', default: '', help: 'also write the JSON record to this file' },
  help: { kind: 'flag', help: 'show this help' },
} as const;

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

function machine() {
  const cpus = os.cpus();
  return {
    platform: `${os.platform()} ${os.release()}`,
    arch: os.arch(),
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpus: cpus.length,
    memoryBytes: os.totalmem(),
    node: process.version,
    hostname: os.hostname(),
  };
}

async function register(
  client: NodeClient,
  chainId: string,
  seed: number,
  count: number,
  log: (s: string) => void,
) {
  const devices = loadDevices(seed, count);
  const ids: string[] = [];
  for (const d of devices) {
    const r = await enrolDevice(client, {
      chainId,
      registrar: d.patientSigner,
      patient: d.patientSigner.publicKey,
      device: d.signer.publicKey,
      now: Date.now(),
      register: true,
    });
    if (r.bindDevice.ok) ids.push(r.bindDevice.id);
    else log(`device ${d.index}: bindDevice ${r.bindDevice.code}`);
  }
  // Wait (bounded) for the bindings to commit before the measured run starts.
  const deadline = Date.now() + 60_000;
  for (const id of ids) {
    while (Date.now() < deadline) {
      const st = await client.txStatus(id);
      if (st.status === 'committed' || st.status === 'rejected') break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  log(`registered ${ids.length}/${devices.length} load devices`);
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2), SPEC);
  if (a.help) {
    console.log(`usage: npm run load -- [options]\n${usage(SPEC)}`);
    return;
  }
  if (!(a.rate > 0)) throw new SdkError('USAGE', '--rate must be > 0');
  if (!(a.duration > 0 && a.warmup >= 0 && a.drain >= 0))
    throw new SdkError('USAGE', 'bad --duration/--warmup/--drain');
  if (!(Number.isInteger(a.batch) && a.batch >= 1 && a.batch <= 1000))
    throw new SdkError('USAGE', '--batch in 1..1000');
  const nodes = a.nodes
    .split(',')
    .map((s) => s.trim().replace(/\/+$/, ''))
    .filter(Boolean);
  if (!(Number.isInteger(a.devices) && a.devices >= nodes.length)) {
    throw new SdkError('USAGE', '--devices must be an integer >= number of nodes');
  }
  const log = (s: string) => console.error(`[load] ${s}`);
  const client = new NodeClient({ nodes, maxRounds: 3 });
  const status = await client.status();
  const chainId = status.chainId;
  log(`chain ${chainId} at height ${status.height}; nodes ${nodes.join(', ')}`);
  if (a.register) await register(client, chainId, a.seed, a.devices, log);

  const cfg = {
    rate: a.rate,
    batchSize: a.batch,
    durationMs: (a.warmup + a.duration) * 1000,
    warmupMs: a.warmup * 1000,
    drainMs: a.drain * 1000,
    nodes,
  };
  const schedule = buildSchedule(cfg);
  // Continue each device's nonce sequence (re-runs against the same chain).
  const devices = loadDevices(a.seed, a.devices);
  const firstNonces: number[] = [];
  for (const d of devices) {
    const acc = await client.account(toHex(d.signer.publicKey));
    firstNonces.push(Math.max(acc.nonce, acc.pendingNonce) + 1);
  }
  // Transaction timestamps are their intended send times, so the run must start at startMs. Nodes admit
  // timestamps at most 30 s ahead of and 10 min behind their clock: estimate the signing time from a
  // small single-threaded sample and plan the start just after the corpus will be ready.
  const sampleN = Math.min(300, totalTransactions(cfg));
  const t0 = Date.now();
  buildCorpus(
    {
      chainId,
      seed: a.seed,
      devices: a.devices,
      nodes: nodes.length,
      startMs: t0,
      rate: a.rate,
      firstNonces,
    },
    buildSchedule({
      rate: a.rate,
      batchSize: a.batch,
      durationMs: Math.ceil((sampleN * 1000) / a.rate),
      warmupMs: 0,
    }),
  );
  const estimateMs = (((Date.now() - t0) / sampleN) * totalTransactions(cfg)) / Math.max(1, a.workers);
  const startMs = Date.now() + Math.ceil(estimateMs * 1.3) + 2_000;
  log(
    `pre-signing ${totalTransactions(cfg)} transactions on ${a.workers} thread(s), about ${Math.ceil(estimateMs / 1000)} s...`,
  );
  const corpus = await buildCorpusParallel(
    { chainId, seed: a.seed, devices: a.devices, nodes: nodes.length, startMs, rate: a.rate, firstNonces },
    schedule,
    a.workers,
  );
  const late = Date.now() - startMs;
  if (late > 9 * 60_000)
    throw new SdkError('USAGE', 'signing took so long that nodes would refuse the timestamps');
  if (late > 0)
    log(`signing overran the planned start by ${(late / 1000).toFixed(1)} s: timestamps lag sends by that`);
  else await new Promise((r) => setTimeout(r, -late));
  log(
    `corpus signed in ${(corpus.signMs / 1000).toFixed(1)} s; running ${a.warmup} s warm-up + ${a.duration} s...`,
  );
  const clock = {
    now: () => performance.now(),
    sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
  };
  const startedAt = new Date().toISOString();
  // The resend list is for callers that run again on the same network; the record keeps statistics.
  const { uncommittedTxs, ...result } = await runLoad(cfg, schedule, corpus, clock);
  const record = {
    tool: 'vigil load generator',
    startedAt,
    gitCommit: gitCommit(),
    machine: machine(),
    config: { ...cfg, devices: a.devices, seed: a.seed, chainId },
    corpus: {
      mode: 'presigned',
      transactions: totalTransactions(cfg),
      signMs: corpus.signMs,
      workers: corpus.workers,
      readingsPerTx: 6,
    },
    latencyDefinition:
      'commit event (SSE, first node) arrival minus intended send time; warm-up excluded; percentiles over every measured transaction, those never committed ranked as +Infinity (null)',
    result,
  };
  const json = JSON.stringify(record, null, 2);
  if (a.out) writeFileSync(a.out, json + '\n');
  if (a.json) {
    console.log(json);
    return;
  }
  const r = result;
  // Infinity: the percentile fell on a transaction that never committed (load/stats.ts).
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : x === Number.POSITIVE_INFINITY ? 'inf' : '-');
  console.log(
    [
      `corpus: pre-signed (${record.corpus.transactions} txs in ${(corpus.signMs / 1000).toFixed(1)} s, ${corpus.workers} threads)`,
      `offered:   ${f(r.offered.ratePerSec)} tx/s (${r.offered.transactions} txs over ${r.measuredWindowMs / 1000} s)`,
      `submitted: ${f(r.submitted.ratePerSec)} tx/s accepted (${r.submitted.accepted} new, ${r.submitted.duplicate} duplicate); rejected ${JSON.stringify(r.submitted.rejected)}`,
      `committed: ${f(r.committed.ratePerSec)} tx/s in the window; ${r.committed.transactions} measured txs committed, ${r.committed.notCommittedAfterDrain} not committed after the drain`,
      `latency ms (intended send -> commit event): p50 ${f(r.latencyMs.p50)} p90 ${f(r.latencyMs.p90)} p99 ${f(r.latencyMs.p99)} p99.9 ${f(r.latencyMs.p999)} max ${f(r.latencyMs.max)}`,
      `generator dispatch lag ms: p50 ${f(r.dispatchLagMs.p50)} p99 ${f(r.dispatchLagMs.p99)} max ${f(r.dispatchLagMs.max)}`,
      `commit feed (SSE) reconnects: ${r.eventReconnects}`,
    ].join('\n'),
  );
}

main().catch((e) => {
  console.error(e instanceof SdkError ? e.message : e);
  process.exit(e instanceof SdkError && e.code === 'USAGE' ? 2 : 1);
});
