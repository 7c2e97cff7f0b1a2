// Tamper evidence on disk. A validator's chain is built through its API, the node is stopped, one
// byte of a stored record is flipped with LevelDB directly, and the node is started again:
//   - the head block or the head state-root node: refused at startup (ChainStore's startup checks,
//     node/src/store/chain-store.test.ts);
//   - a NON-head block (a header byte or a transaction byte): detected on read; GET /v1/blocks/:h and
//     the transaction's proof answer 500 CORRUPT_RECORD instead of the altered block;
//   - a state value's flat copy, or the state-tree leaf holding it: detected on read; the signed
//     read that needs it answers 500 CORRUPT_STATE instead of the altered value.
// Each case has an untampered control first, so a test that "detects" everything cannot pass.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesEqual, decodeCanonical, toHex } from '@vigil/consensus/wire';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import t from 'tap';
import { signRequest } from '../api/signed-request-client.ts';
import { buildApi } from '../api/server.ts';
import { Actor } from '../api/testing/node.ts';
import { Keys } from '../state-machine/index.ts';
import { openDb } from '../store/db.ts';
import { keys, Prefix } from '../store/keys.ts';
import { freePorts } from '../testing/ports.ts';
import { homePaths } from '../validator/home.ts';
import { createNetworkHomes } from '../validator/network-homes.ts';
import { Validator } from '../validator/validator.ts';

const CHAIN = 'vigil-tamper';

interface Running {
  validator: Validator;
  app: FastifyInstance;
}

async function startNode(home: string): Promise<Running> {
  const validator = await Validator.start({ home, log: pino({ level: 'silent' }), tickMs: 20 });
  const app = await buildApi({ validator, rateLimit: false, defaultMetrics: false });
  return { validator, app };
}

async function stopNode(n: Running): Promise<void> {
  await n.app.close();
  await n.validator.stop();
}

/** Flips one bit of the value stored under `key` (at `at`, counted from the end when negative). */
async function flip(home: string, key: Uint8Array, at: number): Promise<void> {
  const db = await openDb(homePaths(home).chainDb);
  try {
    const v = await db.get(key);
    if (v === undefined) throw new Error(`no record under ${toHex(key)}`);
    const copy = Uint8Array.from(v);
    const i = at < 0 ? copy.length + at : at;
    copy[i]! ^= 0x01;
    await db.put(key, copy);
  } finally {
    await db.close();
  }
}

t.test('a flipped byte in a stored block or state entry is detected, never served', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-tamper-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const [p2p, api] = await freePorts(2);
  const { homes } = createNetworkHomes({
    dir,
    validators: 1,
    chainId: CHAIN,
    p2pPorts: [p2p!],
    apiPorts: [api!],
    seedLabel: 'tamper',
  });
  const home = homes[0]!;
  let node = await startNode(home);
  t.teardown(() => stopNode(node).catch(() => undefined));

  const submit = async (bytes: Uint8Array) => {
    const r = await node.app.inject({
      method: 'POST',
      url: '/v1/transactions?wait=commit&timeoutMs=20000',
      headers: { 'content-type': 'application/cbor' },
      payload: Buffer.from(bytes),
    });
    return r.json() as { status: string; height: number; id: string };
  };
  // Block 1..3: three patients register, one per block (wait=commit serialises them).
  const patients = [0, 1, 2].map((i) => new Actor(`tamper-patient-${i}`, CHAIN));
  const receipts = [];
  for (const p of patients) receipts.push(await submit(p.bytes({ type: 20, patient: p.key })));
  t.ok(
    receipts.every((r) => r.status === 'committed'),
    'three registrations committed',
  );
  const victim = receipts[0]!;
  const later = receipts[2]!;
  t.ok(victim.height < later.height, `the tampered block ${victim.height} is not the head (${later.height})`);
  const readPatient = (who: Actor) => {
    const target = `/v1/patients/${toHex(who.key)}/readings?kind=1`;
    return node.app.inject({
      method: 'GET',
      url: target,
      headers: signRequest({ chainId: CHAIN, signer: who.signer, method: 'GET', target, purpose: 1 }),
    });
  };
  const restart = async () => {
    await stopNode(node);
    node = await startNode(home);
  };

  // Controls before any tampering: everything reads fine after a restart.
  await restart();
  t.equal((await node.app.inject(`/v1/blocks/${victim.height}`)).statusCode, 200, 'control: block readable');
  t.equal((await node.app.inject(`/v1/transactions/${victim.id}/proof`)).statusCode, 200, 'control: proof');
  t.equal((await readPatient(patients[1]!)).statusCode, 200, 'control: signed read of a patient');

  // 1. A transaction byte inside a non-head block.
  await stopNode(node);
  await flip(home, keys.block(victim.height), -3);
  node = await startNode(home);
  let r = await node.app.inject(`/v1/blocks/${victim.height}`);
  t.same([r.statusCode, r.json().code], [500, 'CORRUPT_RECORD'], 'a tx byte flipped: the block is refused');
  t.match(r.json().detail, /txRoot/, 'and the error says why');
  r = await node.app.inject(`/v1/transactions/${victim.id}/proof`);
  t.same([r.statusCode, r.json().code], [500, 'CORRUPT_RECORD'], 'no proof is built from the altered block');
  t.equal((await node.app.inject(`/v1/blocks/${later.height}`)).statusCode, 200, 'other blocks still serve');
  // Restore that byte, then flip one in the header (the timestamp's last byte sits early in the record).
  await stopNode(node);
  await flip(home, keys.block(victim.height), -3);
  node = await startNode(home);
  t.equal((await node.app.inject(`/v1/blocks/${victim.height}`)).statusCode, 200, 'restored: served again');
  await stopNode(node);
  await flip(home, keys.block(victim.height), 12);
  node = await startNode(home);
  r = await node.app.inject(`/v1/blocks/${victim.height}`);
  t.equal(r.statusCode, 500, 'a header byte flipped: the block is refused');
  t.match(r.json().code, /^CORRUPT_RECORD$/);

  // 2. The flat copy of a state value (the patient record of patients[1]).
  const stateKey = Keys.patient(patients[1]!.key);
  await stopNode(node);
  await flip(home, keys.state(stateKey), -1);
  node = await startNode(home);
  r = await readPatient(patients[1]!);
  t.same([r.statusCode, r.json().code], [500, 'CORRUPT_STATE'], 'a flipped flat state value is refused');
  t.equal((await readPatient(patients[2]!)).statusCode, 200, 'other patients still read');
  await stopNode(node);
  await flip(home, keys.state(stateKey), -1);

  // 3. The state-tree leaf that holds that value (its value bytes, not its hashes).
  const db = await openDb(homePaths(home).chainDb);
  let leafKey: Uint8Array | undefined;
  try {
    for await (const [k, v] of db.iterator({
      gt: Uint8Array.of(Prefix.treeNode),
      lt: Uint8Array.of(Prefix.treeNode + 1),
    })) {
      const n = decodeCanonical(v);
      if (Array.isArray(n) && n[0] === 0 && n[3] instanceof Uint8Array && bytesEqual(n[3], stateKey)) {
        leafKey = Uint8Array.from(k);
      }
    }
  } finally {
    await db.close();
  }
  t.ok(leafKey, 'found the tree leaf of the patient record');
  node = await startNode(home);
  t.equal((await readPatient(patients[1]!)).statusCode, 200, 'restored flat copy: served again');
  await stopNode(node);
  await flip(home, leafKey!, -1);
  node = await startNode(home);
  r = await readPatient(patients[1]!);
  t.same(
    [r.statusCode, r.json().code],
    [500, 'CORRUPT_STATE'],
    'a flipped value inside a tree leaf is refused',
  );
  t.match(r.json().detail, /does not match its hash/);
});
