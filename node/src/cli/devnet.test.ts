import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { encodeCanonical } from '@vigil/consensus/wire';
import { openDb } from '../store/db.ts';
import { keys } from '../store/keys.ts';
import { createNetworkHomes } from '../validator/network-homes.ts';
import { homePaths } from '../validator/home.ts';
import { freePorts } from '../testing/ports.ts';
import { runDevnet, stopChild } from './devnet.ts';

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
