// Key files on disk: created 0600 (owner read/write only), and a validator refuses to start with a
// key that group or others can read or write: `vigil start` exits with code 3 (configuration) and
// names the problem, before opening a database or a socket. The SDK's loader is tested in
// sensor-client/src/sdk/keyfile.test.ts; this checks the real binary on a real node home.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { freePorts } from '../testing/ports.ts';
import { ProcessNetwork } from '../testing/process-network.ts';
import { homePaths } from '../validator/home.ts';
import { createNetworkHomes } from '../validator/network-homes.ts';

const VIGIL = fileURLToPath(new URL('../cli/vigil.ts', import.meta.url));

function vigil(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [VIGIL, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, VIGIL_LOG_LEVEL: 'error' },
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`vigil ${args.join(' ')} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

const mode = (path: string) => statSync(path).mode & 0o777;

t.test('key files are created 0600 and a validator refuses a key others can read (exit 3)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  const init = await vigil(['init', '--home', join(dir, 'solo'), '--p2p-port', '0', '--api-port', '0']);
  t.equal(init.code, 0, 'vigil init succeeds');
  t.equal(
    mode(homePaths(join(dir, 'solo')).key).toString(8),
    '600',
    'vigil init writes the validator key 0600',
  );

  const ports = await freePorts(2);
  const { homes } = createNetworkHomes({
    dir: join(dir, 'net'),
    validators: 1,
    chainId: 'vigil-keys',
    p2pPorts: [ports[0]!],
    apiPorts: [ports[1]!],
  });
  const home = homes[0]!;
  const key = homePaths(home).key;
  t.equal(mode(key).toString(8), '600', 'network homes write validator keys 0600');
  for (const f of readdirSync(join(dir, 'net', 'keys')))
    t.equal(mode(join(dir, 'net', 'keys', f)).toString(8), '600', `admin key ${f} is 0600`);

  for (const loose of [0o644, 0o640]) {
    chmodSync(key, loose);
    const r = await vigil(['start', '--home', home]);
    t.equal(r.code, 3, `mode ${loose.toString(8)}: vigil start exits 3`);
    t.match(r.stderr, /KEY_FILE_INSECURE/, `mode ${loose.toString(8)}: the error names the problem`);
  }

  // Control: the same home with the key back at 0600 starts and serves.
  chmodSync(key, 0o600);
  const net = new ProcessNetwork([home]);
  t.teardown(() => net.stopAll());
  net.startAll({ VIGIL_LOG_LEVEL: 'warn' });
  t.ok(await net.waitReady(90_000), 'with a 0600 key the validator starts');
  t.ok(net.nodes[0]!.running, 'and keeps running');
});
