// Security properties of a running node, end to end through its API (one in-process validator, so
// blocks are really proposed, certified and applied): replayed transactions on the same chain and
// from another chain are refused; a device cannot write readings for a patient it is not bound to; a
// clinician without a grant gets nothing and the refusal is audited; a signed read older than the
// replay window is refused.
import {
  decodeTransaction,
  encodeTransaction,
  referenceVerifier,
  toHex,
  verifyTransactionSignature,
} from '@vigil/consensus/wire';
import t from 'tap';
import { signRequest } from '../api/signed-request-client.ts';
import { Actor, startTestNode, type TestNode } from '../api/testing/node.ts';

let node: TestNode;
t.before(async () => {
  node = await startTestNode();
});
t.teardown(() => node.close());

async function submit(bytes: Uint8Array, wait = true) {
  const res = await node.app.inject({
    method: 'POST',
    url: wait ? '/v1/transactions?wait=commit&timeoutMs=20000' : '/v1/transactions',
    headers: { 'content-type': 'application/cbor' },
    payload: Buffer.from(bytes),
  });
  return { status: res.statusCode, body: res.json() as { code?: string; status?: string; id?: string } };
}

function signedGet(who: Actor, target: string, o: { purpose?: number; timestamp?: number } = {}) {
  const headers = signRequest({
    chainId: node.chainId,
    signer: who.signer,
    method: 'GET',
    target,
    purpose: o.purpose ?? 1,
    ...(o.timestamp !== undefined ? { timestamp: o.timestamp } : {}),
  });
  return node.app.inject({ method: 'GET', url: target, headers });
}

t.test('a committed transaction replayed on the same chain is refused', async (t) => {
  const patient = new Actor('sec-replay-patient', node.chainId);
  const bytes = patient.bytes({ type: 20, patient: patient.key });
  const first = await submit(bytes);
  t.same([first.status, first.body.status], [200, 'committed'], 'the original commits');
  const again = await submit(bytes, false);
  t.same([again.status, again.body.code], [409, 'DUPLICATE_TX'], 'the identical bytes are refused');
  // The same nonce with new content (a different id): the nonce is spent.
  const sameNonce = await submit(patient.bytes({ type: 20, patient: patient.key }, { nonce: 1 }), false);
  t.equal(sameNonce.body.code, 'NONCE_TOO_LOW', 'a used nonce cannot be replayed with other content');
});

t.test('a transaction from another chain is refused, relabelled or not', async (t) => {
  const elsewhere = new Actor('sec-replay-other-chain', 'vigil-other-chain');
  const foreign = elsewhere.tx({ type: 20, patient: elsewhere.key });
  const asIs = await submit(encodeTransaction(foreign), false);
  t.same([asIs.status, asIs.body.code], [400, 'WRONG_CHAIN'], 'another chain id is refused at admission');
  // Relabelled with this chain's id, the signature (which covers the chain id, ADR 0004) fails.
  const relabelled = { ...foreign, chainId: node.chainId };
  t.notOk(verifyTransactionSignature(relabelled, referenceVerifier), 'the signature binds the chain id');
  const r = await submit(encodeTransaction(relabelled), false);
  t.same([r.status, r.body.code], [400, 'BAD_SIGNATURE'], 'a relabelled foreign transaction is refused');
  t.equal(decodeTransaction(encodeTransaction(relabelled)).chainId, node.chainId);
});

t.test('a device cannot submit readings for a patient it is not bound to', async (t) => {
  const alice = new Actor('sec-dev-alice', node.chainId);
  const bob = new Actor('sec-dev-bob', node.chainId);
  const wearable = new Actor('sec-dev-wearable', node.chainId);
  for (const p of [alice, bob])
    t.equal((await submit(p.bytes({ type: 20, patient: p.key }))).body.status, 'committed');
  const now = Date.now();
  const bind = await submit(
    alice.bytes({
      type: 30,
      device: wearable.key,
      patient: alice.key,
      validFrom: now - 1000,
      validUntil: now + 86_400_000,
    }),
  );
  t.equal(bind.body.status, 'committed', 'the wearable is bound to Alice');
  const reading = { kind: 1, value: 72, unit: '/min', measuredAt: Date.now() };
  const forBob = await submit(wearable.bytes({ type: 50, patient: bob.key, readings: [reading] }));
  t.same(
    [forBob.body.status, forBob.body.code],
    ['rejected', 'DEVICE_WRONG_PATIENT'],
    "Bob's record is refused",
  );
  const bobs = await signedGet(bob, `/v1/patients/${toHex(bob.key)}/readings?kind=1`);
  t.equal(bobs.statusCode, 200);
  t.same(bobs.json().items, [], 'nothing was written for Bob');
  const forAlice = await submit(wearable.bytes({ type: 50, patient: alice.key, readings: [reading] }));
  t.equal(forAlice.body.status, 'committed', "its own patient's reading is accepted (control)");
});

t.test('a clinician without a grant gets nothing, and the refusal is audited', async (t) => {
  const patient = new Actor('sec-nogrant-patient', node.chainId);
  const clinician = new Actor('sec-nogrant-clinician', node.chainId);
  t.equal((await submit(patient.bytes({ type: 20, patient: patient.key }))).body.status, 'committed');
  t.equal(
    (await submit(node.admin.bytes({ type: 10, publicKey: clinician.key, licenceId: 'GMC-SEC-1' }))).body
      .status,
    'committed',
    'an enrolled, active clinician',
  );
  const P = toHex(patient.key);
  const denied = (code: string) =>
    node.app
      .inject('/metrics')
      .then((r) =>
        Number(new RegExp(`vigil_access_denied_total\\{code="${code}"\\} (\\d+)`).exec(r.body)?.[1] ?? 0),
      );
  const before = await denied('NO_GRANT');
  for (const target of [
    `/v1/patients/${P}/readings?kind=1`,
    `/v1/patients/${P}/alerts`,
    `/v1/patients/${P}/news2`,
  ]) {
    const r = await signedGet(clinician, target);
    t.equal(r.statusCode, 403, `${target}: 403`);
    t.equal(r.json().code, 'NO_GRANT');
    t.notOk('items' in r.json() || 'score' in r.json(), 'no patient data in the refusal');
  }
  t.equal(await denied('NO_GRANT'), before + 3, 'each refused attempt is counted under its deny code');
});

t.test('a signed read older than the replay window is refused', async (t) => {
  const patient = new Actor('sec-window-patient', node.chainId);
  t.equal((await submit(patient.bytes({ type: 20, patient: patient.key }))).body.status, 'committed');
  const target = `/v1/patients/${toHex(patient.key)}/readings?kind=1`;
  t.equal((await signedGet(patient, target)).statusCode, 200, 'a fresh request is served (control)');
  const old = await signedGet(patient, target, { timestamp: Date.now() - 60_000 - 5_000 });
  t.same([old.statusCode, old.json().code], [401, 'REQUEST_EXPIRED'], 'older than the 60 s window');
  const future = await signedGet(patient, target, { timestamp: Date.now() + 60_000 + 5_000 });
  t.same([future.statusCode, future.json().code], [401, 'REQUEST_EXPIRED'], 'and as far ahead');
});
