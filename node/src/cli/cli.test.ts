// The `vigil` binary against a live single-validator node: state-machine commands sign and submit,
// queries read (signed where patient data is involved), proofs verify locally, and every failure is
// one line with a documented exit code, never a stack trace.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256, toHex } from '@vigil/consensus/wire';
import { createKeyFile } from '@vigil/sensor-client/sdk/keyfile.ts';
import t from 'tap';
import { startTestNode } from '../api/testing/node.ts';
import { eventually } from '../testing/ports.ts';
import { homePaths } from '../validator/home.ts';
import { run as runVigil } from './vigil.ts';
import { captureConsole } from './console-capture.ts';

const node = await startTestNode();
t.teardown(() => node.close());
const url = await node.app.listen({ host: '127.0.0.1', port: 0 });
const vigil = fileURLToPath(new URL('./vigil.ts', import.meta.url));

/** The real binary in a child process (a few cases: the process boundary, exit codes, stderr). */
function spawnVigil(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [vigil, ...args],
      { env: { ...process.env, VIGIL_NODE: url } },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

process.env.VIGIL_NODE = url;
/**
 * The same entry point in-process (`run`, what the binary calls), with stdout and stderr captured:
 * most cases, so the suite does not pay a Node start-up per command.
 */
async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, out, err } = await captureConsole(() => runVigil(args));
  const text = (lines: string[]) => lines.map((l) => `${l}\n`).join('');
  return { code, stdout: text(out), stderr: text(err) };
}

const keys = join(node.dir, 'keys');
/** A key file with a deterministic seed for one of the CLI's actors. */
const keyFile = (name: string) => {
  const path = join(keys, `${name}.json`);
  const k = createKeyFile(path, sha256(new TextEncoder().encode(`cli-${name}`)));
  return { path, key: toHex(k.publicKey) };
};

const admin = join(keys, 'hospital-0-admin.json');
const clinician = keyFile('clinician');
const patient = keyFile('patient');
const device = keyFile('device');
const stranger = keyFile('stranger');
const genesis = homePaths(join(node.dir, 'node0')).genesis;

t.test('state-machine commands, queries and a verified proof', async (t) => {
  let r = await spawnVigil('status');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /chain vigil-api-test {2}height \d+/);
  r = await spawnVigil(
    'enrol',
    '--role',
    'clinician',
    '--public-key',
    clinician.key,
    '--licence',
    'GMC-9',
    '--key',
    admin,
  );
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^committed [0-9a-f]{64} in block \d+/);
  t.equal((await run('register', '--key', patient.path)).code, 0);
  r = await run('bind-device', '--device', device.key, '--patient', patient.key, '--key', patient.path);
  t.equal(r.code, 0, r.stderr);
  r = await run(
    'submit-readings',
    '--patient',
    patient.key,
    '--reading',
    'heartRate=72',
    '--reading',
    'temperature=36.8',
    '--key',
    device.path,
    '--json',
  );
  t.equal(r.code, 0, r.stderr);
  const sub = JSON.parse(r.stdout);
  t.match(sub, { status: 'committed', id: /^[0-9a-f]{64}$/ });
  r = await run(
    'grant',
    '--patient',
    patient.key,
    '--to',
    clinician.key,
    '--scopes',
    'vitals.*,alerts',
    '--expires-in',
    '1d',
    '--key',
    patient.path,
  );
  t.equal(r.code, 0, r.stderr);

  r = await run('readings', '--patient', patient.key, '--kind', 'temperature', '--key', clinician.path);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /36\.8 Cel/, 'the physical value, as --reading temperature=36.8 took it');
  t.match(r.stdout, /via grant/);
  r = await run(
    'readings',
    '--patient',
    patient.key,
    '--kind',
    'heartRate',
    '--key',
    clinician.path,
    '--json',
  );
  t.same(
    JSON.parse(r.stdout).items.map((i: { value: number }) => i.value),
    [72],
  );

  r = await run('tx', sub.id);
  t.match(r.stdout, new RegExp(`^${sub.id} committed in block ${sub.height}`));
  r = await run('block', String(sub.height));
  t.equal(r.code, 0);
  t.ok(r.stdout.includes(sub.id));
  // The readings name the patient: the node serves their bytes only to a signed, allowed reader.
  r = await run('proof', '--tx', sub.id, '--genesis', genesis);
  t.not(r.code, 0, 'unsigned: withheld');
  t.match(r.stderr, /TX_WITHHELD/);
  r = await run('proof', '--tx', sub.id, '--genesis', `${genesis}.typo`, '--key', device.path);
  t.equal(r.code, 3, 'a genesis path with nothing there is a configuration error');
  t.match(r.stderr, /GENESIS_FILE_NOT_FOUND: no genesis file at /);
  r = await run('proof', '--tx', sub.id, '--genesis', genesis, '--key', device.path);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^verified: .* certified by 1 of 1 validators \(validator set from/);
  // Without --genesis the trust is the node's word, said in one level of parentheses.
  r = await run('proof', '--tx', sub.id, '--key', device.path);
  t.equal(r.code, 0, r.stderr);
  t.match(
    r.stdout,
    /^verified: .* certified by 1 of 1 validators \(validator set reported by the node itself; pass --genesis FILE to check against yours\)(\n|$)/,
  );
  // ADR 0123/0125: the outcome is proven too, once the idle primary's block cites the state after it.
  t.ok(
    await eventually(async () => {
      r = await run('proof', '--tx', sub.id, '--genesis', genesis, '--key', device.path);
      return /\noutcome: accepted, proven by the state certified at block \d+/.test(r.stdout);
    }, 10_000),
    r.stdout,
  );

  const seen = await eventually(async () => {
    const a = await run('audit', '--patient', patient.key, '--key', patient.path);
    return a.code === 0 && a.stdout.includes('read');
  }, 15_000);
  t.ok(seen, "the clinician's reads are in the patient's audit trail");
  r = await run('consents', '--patient', patient.key, '--key', patient.path);
  t.match(r.stdout, /grant [0-9a-f]{64} to/);
  r = await run('alerts', '--patient', patient.key, '--key', clinician.path);
  t.equal(r.code, 0, r.stderr);
});

t.test('failures: documented exit codes and one-line messages', async (t) => {
  const noStack = (s: string) => !/\n\s+at /.test(s);
  let r = await spawnVigil('readings', '--patient', patient.key, '--kind', '1', '--key', stranger.path);
  t.equal(r.code, 4, 'refused: 4');
  t.match(r.stderr, /^vigil: UNKNOWN_REQUESTER: /);
  t.ok(noStack(r.stderr));
  r = await run('ack-alert', '--patient', patient.key, '--seq', '99', '--key', clinician.path);
  t.equal(r.code, 4, 'a transaction rejected in its block: 4');
  t.match(r.stderr, /UNKNOWN_ALERT/);
  r = await spawnVigil('grant', '--patient', patient.key, '--key', patient.path);
  t.equal(r.code, 2, 'usage: 2');
  t.match(r.stderr, /give exactly one of --to HEX or --org ID/);
  r = await run('grant', '--bogus');
  t.equal(r.code, 2);
  t.ok(noStack(r.stderr));
  r = await run(
    'grant',
    '--patient',
    patient.key,
    '--to',
    clinician.key,
    '--scopes',
    'everything',
    '--key',
    patient.path,
  );
  t.equal(r.code, 2, 'a body the wire codec refuses is a usage error, caught before signing');
  t.match(r.stderr, /BODY_ENUM/);
  r = await spawnVigil('status', '--node', 'http://127.0.0.1:1');
  t.equal(r.code, 5, 'unreachable: 5');
  t.match(r.stderr, /^vigil: UNREACHABLE: cannot reach/);
  r = await spawnVigil('register', '--key', join(keys, 'missing.json'));
  t.equal(r.code, 3, 'a missing key file: 3');
  t.match(r.stderr, /^vigil: KEY_FILE_NOT_FOUND: .*missing\.json does not exist/, 'a stable code naming it');
  t.ok(noStack(r.stderr));
  r = await run('nonsense');
  t.equal(r.code, 2);
  r = await run('help');
  t.equal(r.code, 0);
  t.match(r.stdout, /ack-alert --patient HEX --seq N/);
});
