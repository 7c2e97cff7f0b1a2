// What an operator meets when `vigil start` cannot have its home or its ports, and the CLI's own error
// lines: each is one line `vigil: CODE: message` naming what to fix, exit 3 for configuration (docs/cli.md),
// never a stack trace. The real binary on a real home for `start`; `run` in-process for the rest.
import { spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { ChainStore } from '../store/chain-store.ts';
import { openDb } from '../store/db.ts';
import { StoreError } from '../store/errors.ts';
import { freePorts } from '../testing/ports.ts';
import { loadGenesis, toChainGenesis } from '../validator/genesis-file.ts';
import { homePaths } from '../validator/home.ts';
import { createNetworkHomes } from '../validator/network-homes.ts';
import { CliError } from './node-client.ts';
import { reportFailure, run, startFailure } from './vigil.ts';
import { captureConsole } from './console-capture.ts';

const VIGIL = fileURLToPath(new URL('./vigil.ts', import.meta.url));

function vigil(
  args: string[],
  timeoutMs = 30_000,
  logLevel = 'silent',
): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [VIGIL, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, VIGIL_LOG_LEVEL: logLevel },
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    child.stdout.on('data', (d) => {
      stdout += String(d);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`vigil ${args.join(' ')} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout });
    });
  });
}

async function hold(port: number) {
  const s = createServer(() => undefined);
  await new Promise<void>((r) => s.listen(port, '127.0.0.1', r));
  return () => new Promise<void>((r) => s.close(() => r()));
}

async function home(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-start-errors-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const [p2p, api] = await freePorts(2);
  const { homes } = createNetworkHomes({ dir, validators: 1, p2pBasePort: p2p!, apiBasePort: api! });
  return { home: homes[0]!, p2p: p2p!, api: api! };
}

const oneLine = (s: string) => s.trimEnd().split('\n').length === 1;

t.test('a home another process runs: HOME_IN_USE, exit 3', async (t) => {
  const h = await home(t);
  const db = await openDb(homePaths(h.home).chainDb);
  t.teardown(() => db.close());
  const r = await vigil(['start', '--home', h.home]);
  t.equal(r.code, 3, r.stderr);
  t.match(r.stderr, /^vigil: HOME_IN_USE: .*is locked by another process: a validator is already running/);
  t.ok(oneLine(r.stderr), r.stderr);
});

t.test('an API port in use: API_ADDRESS_IN_USE naming it, exit 3', async (t) => {
  const h = await home(t);
  t.teardown(await hold(h.api));
  const r = await vigil(['start', '--home', h.home]);
  t.equal(r.code, 3, r.stderr);
  t.match(r.stderr, `vigil: API_ADDRESS_IN_USE: cannot serve the API on 127.0.0.1:${h.api}`);
  t.ok(oneLine(r.stderr), r.stderr);
});

t.test('a p2p port in use: P2P_LISTEN_FAILED naming it, exit 3, no stack trace', async (t) => {
  const h = await home(t);
  t.teardown(await hold(h.p2p));
  const r = await vigil(['start', '--home', h.home]);
  t.equal(r.code, 3, r.stderr);
  t.match(
    r.stderr,
    `vigil: P2P_LISTEN_FAILED: cannot listen on /ip4/127.0.0.1/tcp/${h.p2p} (listen EADDRINUSE`,
  );
  t.ok(oneLine(r.stderr), r.stderr);
});

t.test(
  'another network\'s genesis.json: GENESIS_MISMATCH, with no "not a genesis validator" before it',
  async (t) => {
    const h = await home(t);
    // The home's chain is initialised from its own genesis, then another network's genesis replaces it.
    const store = await ChainStore.open(homePaths(h.home).chainDb);
    await store.initChain(toChainGenesis(loadGenesis(homePaths(h.home).genesis)));
    await store.close();
    const foreign = mkdtempSync(join(tmpdir(), 'vigil-start-errors-'));
    t.teardown(() => rmSync(foreign, { recursive: true, force: true }));
    const other = createNetworkHomes({ dir: foreign, validators: 1 });
    copyFileSync(homePaths(other.homes[0]!).genesis, homePaths(h.home).genesis);
    const r = await vigil(['start', '--home', h.home], 30_000, 'warn');
    t.equal(r.code, 3, r.stderr);
    t.match(r.stderr, /^vigil: GENESIS_MISMATCH: /);
    t.notMatch(r.stdout, /not a genesis validator/, 'the real reason is the only one given');
  },
);

t.test("a home without genesis.json: MISSING_GENESIS, saying to copy the network's in", async (t) => {
  const h = await home(t);
  unlinkSync(homePaths(h.home).genesis);
  const r = await vigil(['start', '--home', h.home]);
  t.equal(r.code, 3, r.stderr);
  t.match(
    r.stderr,
    `vigil: MISSING_GENESIS: ${homePaths(h.home).genesis} does not exist: copy the network's genesis.json into ${h.home}`,
  );
  t.notMatch(r.stderr, /ENOENT/);
  t.ok(oneLine(r.stderr), r.stderr);
});

t.test('a home without its validator key: KEY_FILE_NOT_FOUND naming it, exit 3', async (t) => {
  const h = await home(t);
  unlinkSync(homePaths(h.home).key);
  const r = await vigil(['start', '--home', h.home]);
  t.equal(r.code, 3, r.stderr);
  t.match(r.stderr, `vigil: KEY_FILE_NOT_FOUND: ${homePaths(h.home).key} does not exist`);
  t.ok(oneLine(r.stderr), r.stderr);
});

/** `run` in-process with stdout and stderr captured. */
async function cli(...args: string[]) {
  const { code, out, err } = await captureConsole(() => run(args));
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

t.test('usage errors carry the USAGE code; a typo names the option', async (t) => {
  let r = await cli('start', '--hme', 'x');
  t.equal(r.code, 2);
  t.match(r.stderr, /^vigil: USAGE: unknown option --hme\n/);
  t.notMatch(r.stderr, /positional/);
  r = await cli('start');
  t.match(r.stderr, /^vigil: USAGE: --home is required/);
});

t.test('--idle-sign-out is whole minutes from 1 to 720, refused before anything starts', async (t) => {
  for (const v of ['0', '721', '1.5', 'never']) {
    const r = await cli('start', '--home', 'x', '--idle-sign-out', v);
    t.equal(r.code, 2, v);
    t.match(
      r.stderr,
      /^vigil: USAGE: --idle-sign-out (is minutes, from 1 to 720|must be a non-negative integer)/,
      v,
    );
  }
});

t.test('--help after a command prints the help, exit 0', async (t) => {
  const r = await cli('init', '--help');
  t.equal(r.code, 0);
  t.match(r.stdout, /init --home DIR/);
});

t.test('keys generate over an existing file: KEY_FILE_EXISTS, exit 3, the file kept', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'k.json');
  const first = await cli('keys', 'generate', '--out', path);
  t.equal(first.code, 0);
  const again = await cli('keys', 'generate', '--out', path);
  t.equal(again.code, 3);
  t.match(
    again.stderr,
    /^vigil: KEY_FILE_EXISTS: .*k\.json already exists; vigil never overwrites a key file/,
  );
  t.equal((await cli('keys', 'show', '--key', path)).stdout, first.stdout, 'the first key is intact');
});

t.test('a --key file that does not exist: KEY_FILE_NOT_FOUND naming the path, exit 3', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'nokey.json');
  for (const args of [
    ['register', '--key', path, '--node', 'http://127.0.0.1:1'],
    ['keys', 'show', '--key', path],
  ]) {
    const r = await cli(...args);
    t.equal(r.code, 3, args[0]);
    t.equal(
      r.stderr,
      `vigil: KEY_FILE_NOT_FOUND: ${path} does not exist (--key takes a key file: vigil keys generate --out FILE makes one)`,
    );
  }
});

t.test('init --key: the existing key file is checked, copied into the home, never overwritten', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-init-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'validator.json');
  const made = await cli('keys', 'generate', '--out', path);
  const pk = made.stdout.trim();
  const home = join(dir, 'home');
  const r = await cli('init', '--home', home, '--key', path);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, `validator public key ${pk}`);
  const copy = homePaths(home).key;
  t.equal((await cli('keys', 'show', '--key', copy)).stdout, pk, "the home's key is the one given");
  t.equal(statSync(copy).mode & 0o777, 0o600);
  // Another home, whose validator-key.json already holds a different key: refused, nothing changed.
  const other = join(dir, 'other');
  t.equal((await cli('init', '--home', other)).code, 0);
  rmSync(homePaths(other).config);
  const before = readFileSync(homePaths(other).key, 'utf8');
  const clash = await cli('init', '--home', other, '--key', path);
  t.equal(clash.code, 3);
  t.match(clash.stderr, /^vigil: KEY_FILE_EXISTS: .*validator-key\.json already holds another key/);
  t.equal(readFileSync(homePaths(other).key, 'utf8'), before, 'the key in the home is intact');
  t.notOk(existsSync(homePaths(other).config), 'nothing written');
  // A key file others may read, or none at all: refused like any --key, before the home is made.
  chmodSync(path, 0o644);
  const loose = await cli('init', '--home', join(dir, 'loose'), '--key', path);
  t.equal(loose.code, 3);
  t.match(loose.stderr, /^vigil: KEY_FILE_INSECURE: /);
  const missing = await cli('init', '--home', join(dir, 'missing'), '--key', join(dir, 'nokey.json'));
  t.match(missing.stderr, /^vigil: KEY_FILE_NOT_FOUND: /);
  t.notOk(existsSync(join(dir, 'loose')) || existsSync(join(dir, 'missing')), 'no home was made');
});

t.test('init says how to join a running network: governance, not only the genesis file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-init-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = await cli('init', '--home', join(dir, 'h'));
  t.equal(r.code, 0, r.stderr);
  const pk = /validator public key ([0-9a-f]{64})/.exec(r.stdout)?.[1];
  t.match(r.stdout, "copy the network's genesis.json into");
  t.match(r.stdout, `vigil propose-add-validator --public-key ${pk} --org ORG`);
  t.match(r.stdout, /Adding or removing a validator/);
});

t.test('a code the message already starts with is printed once', async (t) => {
  const err: string[] = [];
  const { error } = console;
  console.error = (...a: unknown[]) => err.push(a.join(' '));
  try {
    t.equal(
      reportFailure(new StoreError('GENESIS_MISMATCH', 'data directory holds a chain with another genesis')),
      3,
    );
  } finally {
    console.error = error;
  }
  t.same(err, ['vigil: GENESIS_MISMATCH: data directory holds a chain with another genesis']);
});

t.test('a data directory of another genesis says which file to put back', async (t) => {
  const e = startFailure(
    new StoreError('GENESIS_MISMATCH', 'data directory holds a chain with another genesis'),
    '/srv/vigil',
  );
  t.type(e, CliError);
  t.match(e, {
    code: 'GENESIS_MISMATCH',
    exit: 3,
    message:
      /^data directory holds a chain with another genesis: \/srv\/vigil\/genesis\.json is not the genesis \/srv\/vigil\/data was created with/,
  });
});
