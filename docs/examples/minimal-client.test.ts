// The independent client of docs/examples/minimal-client.mjs, written from the documents alone:
// 1. every vector of docs/vectors/wire-v1.json (and the signed-request example of docs/api.md), offline;
// 2. end to end, as docs/cli.md and docs/operations.md tell an operator: a 4-validator network on loopback
//    in a temporary directory, the hospital's steps with the `vigil` CLI, the device's with the client.
//    It takes 20-60 s (mostly four validators starting up on a small machine), so it runs only with
//    VIGIL_SPEC_E2E=1: `VIGIL_SPEC_E2E=1 npx tap docs/examples/minimal-client.test.ts`.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';

interface VectorResult {
  name: string;
  ok: boolean;
  detail?: string;
}
interface FlowResult {
  chainId: string;
  id: string;
  verified: { height: number; index: number; blockHash: string };
  batch: string[];
  outcomes: {
    id: string;
    status: string;
    code?: string;
    height: number;
    index: number;
    outcomeHeight: number;
  }[];
  forged: { case: string; refused: string }[];
  bad: { case: string; status: number; code: string; expected: string }[];
}
interface Client {
  runVectors(file?: string): VectorResult[];
  publicKeyOf(seed: Uint8Array): Uint8Array;
  hex(bytes: Uint8Array): string;
  deviceFlow(o: {
    node: string;
    seed: Uint8Array;
    patient: string;
    validators?: Uint8Array[];
    log?: (line: string) => void;
  }): Promise<FlowResult>;
  unhex(s: string): Uint8Array;
}

// A computed specifier: the client is plain JavaScript with no type declarations.
const clientUrl = new URL('./minimal-client.mjs', import.meta.url).href;
const client = (await import(clientUrl)) as Client;

t.test('the client passes every wire-v1 vector', async (t) => {
  const results = client.runVectors();
  t.ok(results.length >= 100, `${results.length} checks`);
  t.ok(
    results.some((r) => r.name === 'receipts: root'),
    'the receipts vectors (docs/protocol.md §12.5) are checked',
  );
  for (const r of results) t.ok(r.ok, r.name, r.detail ? { detail: r.detail } : {});
});

const execFileP = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;
const vigilBin = realpathSync(join(root, 'node_modules/.bin/vigil'));

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}
/** A run of n consecutive free loopback ports (vigil genesis gives node i the base port + i). */
async function freeRun(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 40000);
    let ok = true;
    for (let i = 0; i < n && ok; i++) ok = await portFree(base + i);
    if (ok) return base;
  }
  throw new Error('no free ports');
}

t.test(
  'end to end: a device enrolled by the hospital submits readings and verifies their inclusion and outcome',
  { skip: process.env.VIGIL_SPEC_E2E === '1' ? false : 'set VIGIL_SPEC_E2E=1 to run it', timeout: 120_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-spec-client-'));
    const children: ChildProcess[] = [];
    t.teardown(async () => {
      await Promise.all(
        children.map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null || c.signalCode !== null) return resolve();
              const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
              c.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
              c.kill('SIGTERM');
            }),
        ),
      );
      rmSync(dir, { recursive: true, force: true });
    });

    const vigil = async (...args: string[]) =>
      (await execFileP(process.execPath, [vigilBin, ...args], { cwd: dir, timeout: 60_000 })).stdout.trim();

    const t0 = Date.now();
    const stage = (what: string) => t.comment(`${what}: ${Date.now() - t0} ms`);
    const p2p = await freeRun(4);
    const api = await freeRun(4);
    const net = join(dir, 'net');
    await vigil(
      'genesis',
      '--dir',
      net,
      '--validators',
      '4',
      '--chain-id',
      'vigil-spec-e2e',
      '--p2p-port',
      String(p2p),
      '--api-port',
      String(api),
    );
    stage('genesis');
    for (let i = 0; i < 4; i++) {
      const c = spawn(process.execPath, [vigilBin, 'start', '--home', join(net, `node${i}`)], {
        cwd: dir,
        stdio: 'ignore',
      });
      children.push(c);
    }
    const node = `http://127.0.0.1:${api}`;
    const deadline = Date.now() + 45_000;
    for (;;) {
      const ready = await fetch(`${node}/ready`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) break;
      if (Date.now() > deadline) throw new Error('the network did not become ready');
      await new Promise((r) => setTimeout(r, 250));
    }

    stage('ready');
    // Hospital side (docs/cli.md): register the patient and bind the device, signed by an admin key.
    const admin = join(net, 'keys', 'hospital-0-admin.json');
    const patient = client.hex(
      client.publicKeyOf(new Uint8Array(32).map(() => Math.floor(Math.random() * 256))),
    );
    const seed = new Uint8Array(32).map(() => Math.floor(Math.random() * 256));
    const device = client.hex(client.publicKeyOf(seed));
    t.match(await vigil('register', '--patient', patient, '--key', admin, '--node', node), /^committed /);
    t.match(
      await vigil('bind-device', '--device', device, '--patient', patient, '--key', admin, '--node', node),
      /^committed /,
    );

    stage('hospital steps');
    // The trust anchor: the validator set of genesis.json, in index order (docs/operations.md).
    const genesis = JSON.parse(readFileSync(join(net, 'node0', 'genesis.json'), 'utf8')) as {
      validators: { publicKey: string }[];
    };
    const validators = genesis.validators.map((v) => client.unhex(v.publicKey));

    // Device side: the client alone, over HTTP, against another validator than the one the CLI used.
    const lines: string[] = [];
    const r = await client.deviceFlow({
      node: `http://127.0.0.1:${api + 1}`,
      seed,
      patient,
      validators,
      log: (l) => lines.push(l),
    });
    stage('device flow');
    t.equal(r.chainId, 'vigil-spec-e2e');
    t.ok(r.verified.height >= 1, `inclusion proof verified in block ${r.verified.height}`);
    t.equal(r.batch.length, 3);
    // Outcomes (ADR 0123): the readings and each of the batch accepted, the non-increasing one rejected.
    t.same(
      r.outcomes.map((o) => [o.id, o.status, o.code ?? null]),
      [
        [r.id, 'accepted', null],
        ...r.batch.map((id) => [id, 'accepted', null]),
        [r.outcomes[4]?.id, 'rejected', 'READING_NOT_INCREASING'],
      ],
      'outcomes proven: 4 accepted, 1 rejected READING_NOT_INCREASING',
    );
    for (const o of r.outcomes)
      t.ok(o.outcomeHeight > o.height, `outcome of block ${o.height} in a later state`);
    t.equal(r.forged.length, 2);
    for (const f of r.forged) t.not(f.refused, 'ACCEPTED', `${f.case}: refused (${f.refused})`);
    for (const b of r.bad) t.equal(b.code, b.expected, `${b.case}: ${b.status} ${b.code}`);
    t.equal(r.bad.find((b) => b.case === 'wrong chain')?.status, 400);
    t.equal(r.bad.find((b) => b.case === 'stale nonce')?.status, 400);
    t.comment(lines.join('\n'));
  },
);
