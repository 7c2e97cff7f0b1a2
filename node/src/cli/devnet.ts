// `npm start`: a newcomer's whole Vigil on one machine. Creates (or reuses) a 4-validator network under
// ./devnet, starts each validator as its own process on loopback (APIs on 127.0.0.1:7701-7704), starts
// the sensor simulator with a small ward of virtual patients, and shows a live status line per node
// until Ctrl-C, when it stops everything cleanly. Running it again continues the same chain;
// `npm start -- --fresh` starts over.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { demoText, setupDemo } from '../../dashboard/demo.ts';
import { createNetworkHomes } from '../validator/network-homes.ts';
import { ChainStore } from '../store/chain-store.ts';
import { StoreError } from '../store/errors.ts';
import { homePaths, loadConfig } from '../validator/home.ts';
import { type NodeStatusView, ProcessNetwork } from '../testing/process-network.ts';
import { parseArgsMessage, UsageError } from './args.ts';

const SENSORS = fileURLToPath(new URL('../../../sensor-client/src/cli/sensors.ts', import.meta.url));

interface StatusWithCounters extends NodeStatusView {
  sinceStart?: { committedTxs: number; alertsRaised: number; alertsAcknowledged: number };
}

function parse(argv: string[]) {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(argv);
  } catch (e) {
    if (((e as { code?: string }).code ?? '').startsWith('ERR_PARSE_ARGS')) {
      throw new UsageError(parseArgsMessage(e as Error));
    }
    throw e;
  }
  const a = parsed.values;
  number(a.rate, 'rate', false);
  return {
    ...a,
    // No default here: a kept devnet runs with its own count, and only an explicit one can conflict.
    validators: a.validators === undefined ? undefined : count(a.validators, 'validators', 1, 64),
    patients: String(count(a.patients, 'patients', 0, 10_000)),
    duration: number(a.duration, 'duration', true),
    // The same range and wording as `vigil start --idle-sign-out` (ADR 0127), checked here so that a bad
    // value is one USAGE line rather than four validators failing to start.
    idleSignOut:
      a['idle-sign-out'] === undefined ? undefined : count(a['idle-sign-out'], 'idle-sign-out', 1, 720),
  };
}

function count(v: string, name: string, min: number, max: number): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max)
    throw new UsageError(`--${name} must be an integer from ${min} to ${max} (got ${v})`);
  return n;
}

function number(v: string, name: string, zero: boolean): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || (n === 0 && !zero))
    throw new UsageError(`--${name} must be a ${zero ? 'non-negative' : 'positive'} number (got ${v})`);
  return n;
}

function parseOptions(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      fresh: { type: 'boolean', default: false },
      dir: { type: 'string', default: 'devnet' },
      validators: { type: 'string' },
      patients: { type: 'string', default: '8' },
      rate: { type: 'string', default: '0.2' },
      'no-sensors': { type: 'boolean', default: false },
      duration: { type: 'string', default: '0' },
      'idle-sign-out': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
}

const USAGE = `npm start [-- options]
  --fresh            delete ./devnet and start a new chain
  --dir DIR          where the network lives (default ./devnet)
  --validators N     validators of a new devnet (default 4; n = 3f+1 tolerates f faults); a kept
                     devnet always runs all of its own, and refuses another count without --fresh
  --patients N       virtual patients in the simulated ward (default 8)
  --rate R           vital-sign sets per patient per second (default 0.2)
  --no-sensors       validators only
  --duration S       stop after S seconds (default: run until Ctrl-C)
  --idle-sign-out M  the dashboards sign out an idle clinician after M minutes (default 15, 1..720)
  --help             this text`;

function line(i: number, s: StatusWithCounters | undefined, txRate: number, running: boolean): string {
  if (!running) return `node${i}  down`;
  if (!s) return `node${i}  starting…`;
  const peers = s.peers.filter((p) => p.connected).length;
  const alerts = s.sinceStart ? s.sinceStart.alertsRaised : 0;
  return (
    `node${i}  height ${String(s.height).padStart(6)}  view ${String(s.view).padStart(3)}` +
    `  tx/s ${txRate.toFixed(1).padStart(6)}  peers ${peers}/${s.peers.length}` +
    `  mempool ${String(s.mempool.size).padStart(5)}  alerts raised ${alerts}` +
    (s.validatorIndex === s.primary ? '  (primary)' : '')
  );
}

/**
 * The devnet chain's state-root interval k (ADR 0117; docs/operations.md). 1: a root of every height.
 * The ward's ~1.6 transactions per second cost the tree nothing, and each device forgets its readings
 * only once their outcome is proven (ADR 0123), which with k = 8 waited up to 8 blocks (~16 s at the
 * ward's block rate) or for the idle primary's blocks (ADR 0125). Benchmarks keep 8 for throughput.
 */
const DEVNET_STATE_ROOT_INTERVAL = 1;

/** Why a kept validator home's database cannot be continued by this build, or undefined if it can. */
async function olderSchema(home: string): Promise<string | undefined> {
  const path = homePaths(home).chainDb;
  if (!existsSync(path)) return undefined;
  try {
    await (await ChainStore.open(path)).close();
    return undefined;
  } catch (e) {
    if (e instanceof StoreError && e.code === 'SCHEMA_MISMATCH') return e.message;
    return undefined; // anything else is the validator's to report, in its log
  }
}

/** Resolves true when something already listens on host:port (EADDRINUSE), false once it is free. */
function portTaken(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'EADDRINUSE'));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(false)));
  });
}

/**
 * The homes' API and p2p ports that something else already holds, as "node0 API 127.0.0.1:7701".
 * Checked before anything starts: a validator that cannot listen exits, while whatever holds its API
 * port may still answer (another devnet does), so the network would look up and the demo set-up would
 * talk to the wrong chain or hang on a listener that never replies.
 */
export async function portsInUse(homes: readonly string[]): Promise<string[]> {
  const taken: string[] = [];
  for (const [i, home] of homes.entries()) {
    const { api, p2p } = loadConfig(home);
    if (await portTaken(api.host, api.port)) taken.push(`node${i} API ${api.host}:${api.port}`);
    for (const addr of p2p.listen) {
      const m = /^\/ip4\/([^/]+)\/tcp\/(\d+)/.exec(addr);
      if (m && Number(m[2]) !== 0 && (await portTaken(m[1]!, Number(m[2])))) {
        taken.push(`node${i} p2p ${m[1]}:${m[2]}`);
      }
    }
  }
  return taken;
}

/**
 * Stops a child with SIGTERM, escalating to SIGKILL after `graceMs`; resolves once it has exited. The
 * sensor simulator is stopped this way, before the validators, so that it drains against live nodes,
 * writes its last lines into sensors.log and is gone when `npm start` returns: signalled and left, it
 * outlived its parent (an orphan still writing to a closed pipe).
 */
export function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** The validator homes a kept devnet holds: node0, node1, ... for as long as each has a config. */
export function keptHomes(dir: string): string[] {
  const homes: string[] = [];
  while (existsSync(homePaths(join(dir, `node${homes.length}`)).config)) {
    homes.push(join(dir, `node${homes.length}`));
  }
  return homes;
}

/**
 * `npm start` with its usage errors reported as one line, `npm start: USAGE: message (npm start --
 * --help)`, exit 2: the same code and wording `vigil` uses (docs/cli.md), with the help npm users type.
 */
export async function runDevnet(argv: string[]): Promise<number> {
  try {
    return await devnet(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`npm start: USAGE: ${e.message} (npm start -- --help)`);
    return 2;
  }
}

async function devnet(argv: string[]): Promise<number> {
  // `npm start -- --bogus --help` is help, as `vigil` treats --help wherever it appears.
  if (argv.includes('--help')) {
    console.log(USAGE);
    return 0;
  }
  const a = parse(argv);
  const dir = resolve(a.dir);
  if (a.fresh && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  let homes = keptHomes(dir);
  if (homes.length > 0) {
    // A kept chain's validator set is its genesis's: running fewer homes than it has left the others
    // silently out (4 of 4 asked as 3 ran `peers 2/3`, one fault from a halt), and more cannot join it
    // without governance. So the count is the devnet's own, and asking for another one is refused.
    if (a.validators !== undefined && a.validators !== homes.length) {
      // A USAGE line like the others, without the --help pointer: this one says itself what to type.
      console.error(
        `npm start: USAGE: --validators ${a.validators}, but the devnet kept in ${dir} has ` +
          `${homes.length} validators (its genesis fixes the set): npm start -- --fresh --validators ` +
          `${a.validators} starts a new chain with that many; without --validators npm start continues this one`,
      );
      return 2;
    }
    const older = await olderSchema(homes[0]!);
    if (older !== undefined) {
      console.error(
        `${dir} was made by an earlier Vigil (${older}); npm start -- --fresh starts a new chain`,
      );
      return 1;
    }
    console.log(`Continuing the chain in ${dir} (npm start -- --fresh starts over)`);
  } else {
    // A new chain: sensor devices left from an earlier one (its validator homes gone, or an interrupted
    // --fresh) hold that chain's queues and nonces, and would be refused (DATA_DIR_OTHER_CHAIN).
    const oldSensors = join(dir, 'sensors');
    if (existsSync(oldSensors)) {
      rmSync(oldSensors, { recursive: true, force: true });
      console.log(`Removed ${oldSensors}: the sensor devices of a chain no longer here`);
    }
    homes = createNetworkHomes({
      dir,
      validators: a.validators ?? 4,
      p2pBasePort: 26601,
      apiBasePort: 7701,
      consensus: { stateRootInterval: DEVNET_STATE_ROOT_INTERVAL },
    }).homes;
    console.log(`Created a ${homes.length}-validator network in ${dir}`);
  }
  const taken = await portsInUse(homes);
  if (taken.length > 0) {
    console.error(
      `Ports in use: ${taken.join(', ')}. Another devnet or program holds them: stop it ` +
        '(`pgrep -af vigil` lists Vigil processes) and run npm start again.',
    );
    return 1;
  }
  const net = new ProcessNetwork(homes);
  let sensors: ChildProcess | undefined;
  // Ctrl-C is honoured from here on, start-up included: without handlers installed this early, a
  // signal during the (up to 60 s) wait for the validators killed this process and left them running.
  const interrupt = new AbortController();
  const interrupted = new Promise<void>((resolve) =>
    interrupt.signal.addEventListener('abort', () => resolve(), { once: true }),
  );
  const onSignal = () => interrupt.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const stopEverything = async () => {
    // Only what runs is named: with --no-sensors (or before they started) there is no simulator.
    console.log(`\nStopping ${sensors ? 'the sensor simulator and ' : ''}the validators…`);
    if (sensors) await stopChild(sensors, 10_000);
    await net.stopAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  net.startAll(
    { VIGIL_LOG_LEVEL: 'info' },
    a.idleSignOut === undefined ? [] : ['--idle-sign-out', String(a.idleSignOut)],
  );
  console.log(`Validators starting; logs in ${dir}/node*/node.log`);
  const ready = await Promise.race([net.waitReady(60_000), interrupted.then(() => undefined)]);
  if (interrupt.signal.aborted) {
    await stopEverything();
    console.log('Stopped during start-up.');
    return 0;
  }
  // waitReady counts a validator that exited as settled: one that died starting up is an error here.
  const dead = net.nodes.filter((n) => !n.running);
  if (!ready || dead.length > 0) {
    console.error(
      ready
        ? `${dead.map((n) => `node${n.index}`).join(', ')} exited while starting; see ${dead.map((n) => join(n.home, 'node.log')).join(', ')}`
        : `The validators did not answer within 60 s; see the logs in ${dir}/node*/node.log.`,
    );
    await stopEverything();
    return 1;
  }
  const urls = net.nodes.map((n) => n.apiUrl);
  console.log(`APIs: ${urls.join('  ')}`);

  if (!a['no-sensors']) {
    const log = createWriteStream(join(dir, 'sensors.log'), { flags: 'a' });
    sensors = spawn(
      process.execPath,
      [
        SENSORS,
        ...['--patients', a.patients, '--rate', a.rate, '--nodes', urls.join(',')],
        // A quarter of the ward deteriorates (sepsis-like) within the first few minutes, so a newcomer
        // sees NEWS2 rise and alerts fire without waiting long.
        ...['--deteriorate', '0.25', '--episodeFrom', '1', '--episodeTo', '4', '--onset', '2'],
        ...['--register', '--dataDir', join(dir, 'sensors')],
        // The devices trust the genesis validators: a reading leaves a device's queue only once the
        // proof that its block accepted the transaction verifies against them (the genesis keeps
        // receipts roots, ADR 0123; docs/sensor-client.md).
        ...['--genesis', join(homes[0]!, 'genesis.json')],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    sensors.stdout!.pipe(log);
    sensors.stderr!.pipe(log);
    sensors.once('exit', (code) => {
      // Said here too: a ward that stopped (e.g. its devices' data directory refused) is otherwise
      // only visible in the log, while the dashboard just goes quiet.
      if (code !== 0 && code !== null && !interrupt.signal.aborted) {
        console.error(`The sensor simulator exited with status ${code}; see ${dir}/sensors.log`);
      }
    });
    console.log(
      `Sensor simulator: ${a.patients} virtual patients at ${a.rate} readings/s each (log: ${dir}/sensors.log)`,
    );
  }
  // The web dashboard (served by every node at /) and demo key files to sign in with (docs/dashboard.md).
  const demo = await Promise.race([
    setupDemo({
      dir,
      apiUrl: urls[0]!,
      patients: Number(a.patients),
      deteriorate: 0.25,
      sensors: !a['no-sensors'],
    }).catch((e: Error) => void console.error(`Demo keys not ready: ${e.message}`)),
    interrupted.then(() => undefined),
  ]);
  if (interrupt.signal.aborted) {
    await stopEverything();
    console.log('Stopped during start-up.');
    return 0;
  }
  console.log(demoText(`${urls[0]}/`, demo ?? undefined));
  console.log('Ctrl-C stops everything.\n');

  const tty = process.stdout.isTTY;
  const last = new Map<number, { txs: number; at: number }>();
  const rates = new Array<number>(homes.length).fill(0);
  let printed = 0;
  let stopping = false;
  const render = async () => {
    const statuses = (await net.statuses()) as (StatusWithCounters | undefined)[];
    const now = Date.now();
    statuses.forEach((s, i) => {
      if (!s?.sinceStart) return;
      const prev = last.get(i);
      if (prev && now > prev.at && s.sinceStart.committedTxs >= prev.txs) {
        rates[i] = ((s.sinceStart.committedTxs - prev.txs) * 1000) / (now - prev.at);
      }
      last.set(i, { txs: s.sinceStart.committedTxs, at: now });
    });
    const lines = statuses.map((s, i) => line(i, s, rates[i]!, net.nodes[i]!.running));
    if (stopping) return;
    if (tty) {
      if (printed > 0) process.stdout.write(`\x1b[${printed}A`);
      for (const l of lines) process.stdout.write(`\x1b[2K${l}\n`);
      printed = lines.length;
    } else {
      console.log(`${new Date(now).toISOString()}\n${lines.join('\n')}`);
    }
  };
  const timer = setInterval(() => void render(), tty ? 1_000 : 5_000);
  await render();

  const deadline = a.duration > 0 ? setTimeout(() => interrupt.abort(), a.duration * 1000) : undefined;
  await interrupted;
  clearTimeout(deadline);
  stopping = true;
  clearInterval(timer);
  await stopEverything();
  console.log('Stopped. `npm start` continues this chain; `npm start -- --fresh` starts over.');
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runDevnet(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error & { code?: string }) => {
      console.error(`npm start: ${err.code ? `${err.code}: ` : ''}${err.message}`);
      process.exit(1);
    },
  );
}
