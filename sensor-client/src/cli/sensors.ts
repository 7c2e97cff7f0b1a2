// npm run sensors -- --patients 20 --rate 1 [--seed N] [--nodes http://127.0.0.1:7701,...]
// Runs a simulated ward: one Device (SDK: durable queue, failover, retries) per virtual patient,
// sending a full set of vitals `rate` times per second. --dry-run prints the readings and NEWS2
// without any network, in simulated time (same seed => byte-identical output).

import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { signerFromSeed } from '@vigil/consensus/wire';
import { RISK_BAND_NAMES } from '@vigil/consensus/vitals/index.ts';
import { NodeClient } from '../sdk/api-client.ts';
import { type GenesisTrust, trustFromGenesis } from '../sdk/commit-trust.ts';
import { Device, type DeviceEvent, FATAL_DEVICE_CODES } from '../sdk/device.ts';
import { SdkError } from '../sdk/errors.ts';
import { loadOrCreateKeyFile } from '../sdk/keyfile.ts';
import { enrolDevice } from '../sdk/registration.ts';
import { makeCohort, sampleNews2, type SimPatient } from '../sim/cohort.ts';
import { sampleToReadings, sampleVitals } from '../sim/physiology.ts';
import { parseArgs, usage } from './args.ts';

const SPEC = {
  patients: { kind: 'number', default: 20, help: 'virtual patients (one device each)' },
  rate: { kind: 'number', default: 1, help: 'vital-sign sets per patient per second' },
  seed: { kind: 'number', default: 1, help: 'PRNG seed: same seed, same patients and readings' },
  nodes: {
    kind: 'string',
    default: 'http://127.0.0.1:7701',
    help: 'comma-separated node URLs (failover order)',
  },
  chainId: {
    kind: 'string',
    default: '',
    help: 'chain id (default: asked from the first node that answers)',
  },
  dataDir: {
    kind: 'string',
    default: '',
    help: 'device keys, queues and nonces (default sensors-data/<chain id>-<genesis hash>: one per chain; a directory made for another chain is refused)',
  },
  genesis: {
    kind: 'string',
    default: '',
    help: "the chain's genesis.json: devices forget readings only once a commit proof verifies against its validators (and, if it sets consensus.receiptsRoots, a proof that the block accepted them)",
  },
  duration: { kind: 'number', default: 0, help: 'seconds to run (0 = until Ctrl-C)' },
  deteriorate: { kind: 'number', default: 0.2, help: 'fraction of patients with a sepsis-like episode' },
  episodeFrom: { kind: 'number', default: 2, help: 'episodes start at least this many minutes in' },
  episodeTo: { kind: 'number', default: 15, help: '...and at most this many minutes in' },
  onset: { kind: 'number', default: 10, help: 'episode ramp-in, minutes' },
  register: { kind: 'flag', help: 'first register each patient and bind its device (patient-signed)' },
  dryRun: { kind: 'flag', help: 'no network: print readings and NEWS2 in simulated time' },
  start: { kind: 'number', default: 0, help: 'dry run: simulated start time, epoch ms (0 = 2026-01-01)' },
  help: { kind: 'flag', help: 'show this help' },
} as const;

type Args = ReturnType<typeof parseArgs<typeof SPEC>>;

function cohort(a: Args, startMs: number): SimPatient[] {
  if (!(Number.isInteger(a.patients) && a.patients >= 1 && a.patients <= 10_000)) {
    throw new SdkError('USAGE', '--patients must be an integer in 1..10000');
  }
  if (!(a.rate > 0 && a.rate <= 100)) throw new SdkError('USAGE', '--rate must be in (0, 100]');
  if (!(a.deteriorate >= 0 && a.deteriorate <= 1))
    throw new SdkError('USAGE', '--deteriorate must be in [0, 1]');
  return makeCohort({
    seed: a.seed,
    patients: a.patients,
    startMs,
    deteriorate: a.deteriorate,
    episodeFromMs: a.episodeFrom * 60_000,
    episodeToMs: Math.max(a.episodeFrom, a.episodeTo) * 60_000,
    onsetMs: a.onset * 60_000,
  });
}

function dryRun(a: Args): void {
  const startMs = a.start || Date.UTC(2026, 0, 1);
  const ward = cohort(a, startMs);
  const stepMs = 1000 / a.rate;
  const steps = Math.floor(((a.duration || 60) * 1000) / stepMs);
  console.log('t_ms\tpatient\tHR\tSpO2\tSBP\tDBP\tTemp\tRR\tNEWS2\tband\tseverity\tprobeSlip');
  for (let k = 0; k < steps; k++) {
    const t = startMs + Math.round(k * stepMs);
    for (const p of ward) {
      const s = sampleVitals(p.profile, t);
      const n = sampleNews2(s);
      console.log(
        [
          t - startMs,
          p.index,
          s.heartRate,
          s.spo2,
          s.systolicBp,
          s.diastolicBp,
          (s.temperature / 10).toFixed(1),
        ]
          .concat([
            s.respiratoryRate,
            n.total,
            RISK_BAND_NAMES[n.band],
            s.severity.toFixed(2),
            s.spo2ProbeSlip ? 1 : 0,
          ])
          .join('\t'),
      );
    }
  }
}

async function live(a: Args): Promise<void> {
  const nodes = a.nodes
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const client = new NodeClient({ nodes, maxRounds: 5 });
  const status = await client.status();
  const served = status.chainId;
  if (a.chainId && a.chainId !== served) {
    throw new SdkError(
      'CHAIN_MISMATCH',
      `--chain-id ${a.chainId}, but ${client.currentNode} serves ${served}`,
    );
  }
  const chainId = served;
  const startMs = Date.now();
  const ward = cohort(a, startMs);
  const dataDir = resolve(a.dataDir || defaultDataDir(chainId, status.genesisHash));
  const counts = { queued: 0, delivered: 0, blocked: 0, queueFull: 0, skew: 0, unverified: 0, deadLetter: 0 };
  /** Dead letters by code, and the last reason the devices were blocked: the summary's why. */
  const deadCodes = new Map<string, number>();
  let lastBlocked = '';
  // The genesis decides both: the validators a commit proof must be certified by, and whether the chain
  // proves outcomes (ADR 0123), so a device never forgets readings its block rejected.
  let trust: GenesisTrust | undefined;
  if (a.genesis !== '') {
    try {
      trust = trustFromGenesis(JSON.parse(readFileSync(resolve(a.genesis), 'utf8')));
    } catch (e) {
      throw new SdkError('USAGE', `--genesis ${a.genesis}: ${(e as Error).message}`);
    }
  }
  const devices: Device[] = [];
  const keys = ward.map((p) => {
    const dir = join(dataDir, `seed-${a.seed}`, `patient-${p.index}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return { dir, deviceKey: loadOrCreateKeyFile(join(dir, 'device.key'), p.deviceSeed) };
  });
  // Every device first, so that a data directory of another chain (DATA_DIR_OTHER_CHAIN) stops the ward
  // before anything is registered or sent.
  try {
    for (const [i, p] of ward.entries()) {
      devices.push(
        Device.open({
          dataDir: keys[i]!.dir,
          chainId,
          // The chain the first node serves: a directory bound to another genesis is refused at open.
          ...(status.genesisHash === undefined ? {} : { genesisHash: status.genesisHash }),
          patient: signerFromSeed(p.patientSeed).publicKey,
          signer: signerFromSeed(keys[i]!.deviceKey.seed),
          nodes,
          ...(trust ?? {}),
          onEvent: (e: DeviceEvent) => {
            if (e.type === 'queued') counts.queued++;
            else if (e.type === 'delivered') counts.delivered++;
            else if (e.type === 'blocked') {
              counts.blocked++;
              lastBlocked = e.reason;
            } else if (e.type === 'queueFull') counts.queueFull++;
            else if (e.type === 'clockSkew') counts.skew++;
            // Claims a device did not act on for want of proof: commits, rejections, nonces (ADR 0131).
            else if (e.type === 'commitUnverified' || e.type === 'nonceUnproven') counts.unverified++;
            else if (e.type === 'deadLetter') {
              counts.deadLetter++;
              deadCodes.set(e.code, (deadCodes.get(e.code) ?? 0) + 1);
            }
          },
        }),
      );
    }
  } catch (e) {
    for (const d of devices) d.close();
    throw e;
  }
  for (const [i, p] of ward.entries()) {
    const deviceKey = keys[i]!.deviceKey;
    const patientKey = signerFromSeed(p.patientSeed);
    if (a.register) {
      const r = await enrolDevice(client, {
        chainId,
        registrar: patientKey,
        patient: patientKey.publicKey,
        device: deviceKey.publicKey,
        now: Date.now(),
        register: true,
      });
      const show = (x: typeof r.bindDevice | undefined) => (x === undefined ? '-' : x.ok ? 'ok' : x.code);
      console.log(
        `patient ${p.index}: registerPatient ${show(r.registerPatient)}, bindDevice ${show(r.bindDevice)}`,
      );
    }
  }
  console.log(
    `simulating ${ward.length} patients at ${a.rate}/s on chain ${chainId} via ${nodes.join(', ')}; ` +
      `${ward.filter((p) => p.profile.episodes.length > 0).length} will deteriorate; data in ${dataDir}; ` +
      `commits ${trust === undefined ? "taken on the node's word" : trust.requireOutcomeProof ? 'and outcomes proven' : 'proven (inclusion only)'}`,
  );
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  process.once('SIGTERM', () => ac.abort());
  let failure: unknown;
  const loops = devices.map((d) =>
    d.run(ac.signal).catch((e: unknown) => {
      // A device loop only ends with an error on misconfiguration (CHAIN_MISMATCH) or a damaged queue:
      // stop the ward and report it rather than run on with a silent device.
      failure ??= e;
      ac.abort();
    }),
  );
  const stepMs = 1000 / a.rate;
  const endAt = a.duration > 0 ? startMs + a.duration * 1000 : Number.POSITIVE_INFINITY;
  let lastReport = Date.now();
  for (let k = 0; !ac.signal.aborted; k++) {
    const due = startMs + k * stepMs;
    if (due >= endAt) break;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const bands = [0, 0, 0, 0];
    for (let i = 0; i < ward.length; i++) {
      const s = sampleVitals(ward[i]!.profile, Date.now());
      bands[sampleNews2(s).band]!++;
      try {
        devices[i]!.submitReadings(sampleToReadings(s));
      } catch (e) {
        if (!(e instanceof SdkError && e.code === 'QUEUE_FULL')) throw e;
      }
    }
    if (Date.now() - lastReport >= 10_000) {
      lastReport = Date.now();
      const pending = devices.reduce((n, d) => n + d.pendingCount, 0);
      console.log(
        `t+${Math.round((Date.now() - startMs) / 1000)}s queued ${counts.queued} delivered ${counts.delivered} ` +
          `pending ${pending} blocked ${counts.blocked} deadLetter ${counts.deadLetter} queueFull ${counts.queueFull} clockSkew ${counts.skew} unverified ${counts.unverified} | ` +
          `NEWS2 bands ${RISK_BAND_NAMES.map((n, i) => `${n}:${bands[i]}`).join(' ')}`,
      );
    }
  }
  // Give the queues a moment to drain, then stop; whatever is left stays queued for the next run.
  const drainUntil = Date.now() + 10_000;
  while (!ac.signal.aborted && Date.now() < drainUntil && devices.some((d) => d.pendingCount > 0)) {
    await new Promise((r) => setTimeout(r, 100));
  }
  ac.abort();
  await Promise.allSettled(loops);
  for (const d of devices) d.close();
  const left = devices.reduce((n, d) => n + d.pendingCount, 0);
  console.log(
    `done: queued ${counts.queued}, delivered ${counts.delivered}, dead-lettered ${counts.deadLetter}, ` +
      `still queued on disk ${left}`,
  );
  if (failure !== undefined) throw failure;
  if (counts.queued > 0 && counts.delivered === 0) {
    // A run that delivered nothing failed, whatever the cause: say why rather than exit 0 on "blocked N".
    const dead = [...deadCodes].map(([c, n]) => `${c} x${n}`).join(', ');
    throw new WardError(
      dead !== ''
        ? `nothing delivered: the chain refused the readings permanently (${dead}); they are kept in ` +
            `each device's deadletter.jsonl under ${dataDir}${a.register ? '' : ' (devices not enrolled? try --register)'}`
        : `nothing delivered: ${lastBlocked || 'no commit was confirmed'}; the readings stay queued under ${dataDir}`,
    );
  }
}

/** The run ended without an SDK error but achieved nothing (exit 1 with the reason). */
class WardError extends Error {}

/**
 * One directory per chain by default, named by the chain id and (when the node serves it) the genesis
 * hash: a ward run against another chain of the same id (the fake node, a `vigil genesis` network) gets
 * devices of its own instead of inheriting another chain's queues and nonces.
 */
function defaultDataDir(chainId: string, genesisHash: string | undefined): string {
  const name = chainId.replace(/[^A-Za-z0-9._-]/g, '_');
  return join('sensors-data', genesisHash === undefined ? name : `${name}-${genesisHash.slice(0, 16)}`);
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2), SPEC);
  if (a.help) {
    console.log(`usage: npm run sensors -- [options]\n${usage(SPEC)}`);
    return;
  }
  if (a.dryRun) dryRun(a);
  else await live(a);
}

main().catch((e) => {
  console.error(e instanceof SdkError || e instanceof WardError ? e.message : e);
  // 3: a data directory or chain problem the operator must fix (as `vigil` uses it), not a crash.
  const code = e instanceof SdkError ? (e.code === 'USAGE' ? 2 : FATAL_DEVICE_CODES.has(e.code) ? 3 : 1) : 1;
  process.exit(code);
});
