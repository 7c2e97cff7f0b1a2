import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { encodeCanonical } from '@vigil/consensus/wire';
import { openDb } from '../store/db.ts';
import { keys } from '../store/keys.ts';
import { createNetworkHomes } from '../validator/network-homes.ts';
import { homePaths } from '../validator/home.ts';
import { freePorts } from '../testing/ports.ts';
import { keptHomes, runDevnet, stopChild } from './devnet.ts';
import { captureConsole } from './console-capture.ts';

const DEVNET = fileURLToPath(new URL('./devnet.ts', import.meta.url));

/** runDevnet in-process with console.log and console.error captured. */
async function devnet(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, out, err } = await captureConsole(() => runDevnet(args));
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

t.test(
  'a devnet kept from an older database schema is refused with the way out, nothing started',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-devnet-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const { homes } = createNetworkHomes({ dir, validators: 4, p2pBasePort: 46601, apiBasePort: 47701 });
    const db = await openDb(homePaths(homes[0]!).chainDb);
    await db.put(keys.meta('schemaVersion'), encodeCanonical(1));
    await db.close();
    const errors: string[] = [];
    const restore = console.error;
    console.error = (...args: unknown[]) => {
      errors.push(args.join(' '));
    };
    let code: number;
    try {
      code = await runDevnet(['--dir', dir, '--no-sensors']);
    } finally {
      console.error = restore;
    }
    t.equal(code, 1);
    t.match(errors.join('\n'), /database schema 1, this node reads \d+.*npm start -- --fresh/);
  },
);

t.test(
  'a port held by another program is named before anything starts, instead of a hang',
  { timeout: 120_000 },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-devnet-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const [p2p, api] = await freePorts(2);
    createNetworkHomes({ dir, validators: 1, p2pBasePort: p2p!, apiBasePort: api! });
    // A listener that accepts and never answers, as a stray process on 7701 would.
    const blocker = createServer(() => undefined);
    await new Promise<void>((r) => blocker.listen(api, '127.0.0.1', r));
    t.teardown(() => new Promise<void>((r) => blocker.close(() => r())));
    const errors: string[] = [];
    const restore = console.error;
    console.error = (...args: unknown[]) => {
      errors.push(args.join(' '));
    };
    let code: number;
    try {
      code = await runDevnet(['--dir', dir, '--validators', '1', '--no-sensors']);
    } finally {
      console.error = restore;
    }
    t.equal(code, 1);
    t.match(errors.join('\n'), new RegExp(`Ports in use: node0 API 127\\.0\\.0\\.1:${api}`));
  },
);

t.test('stopChild waits for the child to exit, and kills one that ignores SIGTERM', async (t) => {
  // Exits 300 ms after SIGTERM, writing a last line first: what the sensor simulator does as it drains.
  const draining = spawn(
    process.execPath,
    [
      '-e',
      "process.on('SIGTERM', () => setTimeout(() => { console.log('done'); process.exit(0); }, 300)); process.stdout.write('up\\n'); setInterval(() => {}, 1000);",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  draining.stdout!.on('data', (d) => {
    out += d;
  });
  await new Promise((r) => draining.stdout!.once('data', r));
  await stopChild(draining, 5_000);
  t.equal(draining.exitCode, 0, 'exited by itself');
  t.match(out, /done/, 'its last line was written before stopChild resolved');
  const stubborn = spawn(
    process.execPath,
    ['-e', "process.on('SIGTERM', () => {}); process.stdout.write('up\\n'); setInterval(() => {}, 1000);"],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise((r) => stubborn.stdout!.once('data', r));
  await stopChild(stubborn, 300);
  t.equal(stubborn.signalCode, 'SIGKILL', 'killed after the grace period');
});

t.test(
  'a kept devnet refuses another --validators count, naming its own and --fresh; nothing started',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-devnet-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const [p2p, api] = await freePorts(2);
    createNetworkHomes({ dir, validators: 4, p2pBasePort: p2p!, apiBasePort: api! });
    t.equal(keptHomes(dir).length, 4);
    // Three of the four homes started silently before (`peers 2/3`): one more fault halted the chain.
    const r = await devnet(['--dir', dir, '--validators', '3', '--no-sensors']);
    t.equal(r.code, 2, r.stderr);
    t.match(
      r.stderr,
      /^npm start: USAGE: --validators 3, but the devnet kept in .* has 4 validators .*npm start -- --fresh --validators 3 starts a new chain with that many; without --validators npm start continues this one$/,
    );
    t.notMatch(r.stdout, /Validators starting/);
    t.equal(await portTakenBy(api!), false, 'no validator was started');
  },
);

t.test('usage errors: one line naming the option and --help, exit 2', async (t) => {
  // The real script, as `npm start -- --bogus` runs it: the line and the exit code are the interface.
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [DEVNET, '--bogus'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    child.once('exit', (code) => resolve({ code, stderr }));
  });
  t.equal(r.code, 2, r.stderr);
  t.equal(r.stderr, 'npm start: USAGE: unknown option --bogus (npm start -- --help)\n');
  const bad = await devnet(['--validators', 'four']);
  t.equal(bad.code, 2);
  t.equal(
    bad.stderr,
    'npm start: USAGE: --validators must be an integer from 1 to 64 (got four) (npm start -- --help)',
  );
  const idle = await devnet(['--idle-sign-out', '0']);
  t.equal(idle.code, 2);
  t.equal(
    idle.stderr,
    'npm start: USAGE: --idle-sign-out must be an integer from 1 to 720 (got 0) (npm start -- --help)',
  );
  const help = await devnet(['--bogus', '--help']);
  t.equal(help.code, 0, '--help is help wherever it appears');
  t.match(help.stdout, /--no-sensors/);
});

t.test(
  'a kept devnet runs all its validators; --no-sensors stops without naming a sensor simulator',
  { timeout: 120_000 },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-devnet-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const [p2p, api] = await freePorts(2);
    createNetworkHomes({ dir, validators: 1, p2pBasePort: p2p!, apiBasePort: api! });
    // No --validators: the kept devnet's own count (1), not the default 4 (whose node1..3 do not exist).
    // --idle-sign-out reaches each validator's `vigil start` (its command line, read from /proc).
    const seen = new Set<string>();
    const watch = setInterval(() => {
      for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        try {
          const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
          if (argv.includes('start') && argv.includes(join(dir, 'node0'))) seen.add(argv.join(' '));
        } catch {
          // gone between the listing and the read
        }
      }
    }, 50);
    let r: Awaited<ReturnType<typeof devnet>>;
    try {
      r = await devnet(['--dir', dir, '--no-sensors', '--duration', '1', '--idle-sign-out', '30']);
    } finally {
      clearInterval(watch);
    }
    t.equal(r.code, 0, r.stderr);
    t.ok(
      [...seen].some((c) => c.endsWith(`--home ${join(dir, 'node0')} --idle-sign-out 30`)),
      `the validator was started with it: ${[...seen].join(' | ')}`,
    );
    t.match(r.stdout, /Continuing the chain in/);
    t.match(r.stdout, /\nStopping the validators…/);
    t.notMatch(r.stdout, /sensor simulator/i, 'no simulator ran, none is stopped');
  },
);

function portTakenBy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(true));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(false)));
  });
}
