// Nonce claims under requireOutcomeProof (ADR 0131, docs/sensor-client.md "Nonces"): a node's word that
// a device's nonce is used (NONCE_TOO_LOW), out of reach (NONCE_GAP, ACCOUNT_LIMIT) or some account
// nonce (/v1/accounts) is what makes a device re-sign its queued readings under other nonces, so a
// device acts on it only as far as a certified state proves the account's nonce. A Byzantine node
// saying so, with genuine, stale, forged, garbage or no proofs, makes the device keep the same bytes and
// go elsewhere, never re-sign or stall; a true claim is acted on once a certified state shows it, and
// the wait for that state is bounded by a precise error. The fake ledger keeps a real sparse-Merkle
// state of account nonces certified with real keys; the device's clock is injected, never slept on.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { signerFromSeed } from '@vigil/consensus/wire';
import t from 'tap';
import { makePatient, type Reading, sampleToReadings, sampleVitals } from '../sim/physiology.ts';
import { Rng } from '../sim/prng.ts';
import type { Lie } from '../testing/fake-node.ts';
import { committedReadings, flushUntilIdle, tempDir } from '../testing/helpers.ts';
import { type OutcomeWard, outcomeWard } from '../testing/outcome-device.ts';
import { fromHex } from '../util/hex.ts';
import { accountNonceKeyHex } from './account-proof.ts';
import { type DeviceConfig, type DeviceEvent, NONCE_UNPROVEN_AFTER_MS } from './device.ts';

const CHAIN = 'vigil-test';
const T0 = Date.UTC(2026, 0, 1);
const rng = new Rng(131);
const patientKey = signerFromSeed(rng.bytes(32)).publicKey;
const patient = makePatient(3, 0);
const hospital = Array.from({ length: 4 }, () => signerFromSeed(rng.bytes(32)));
const batch = (i: number): Reading[] => sampleToReadings(sampleVitals(patient, T0 + i * 1000));

function setup(
  t: { teardown(fn: () => unknown): void },
  opts: { lies?: (Lie | undefined)[]; cite?: 'immediate' | 'manual'; extra?: Partial<DeviceConfig> } = {},
): Promise<OutcomeWard> {
  return outcomeWard(t, {
    ...opts,
    chainId: CHAIN,
    validators: hospital,
    signer: signerFromSeed(rng.bytes(32)),
    patient: patientKey,
    t0: T0,
  });
}

const flush = flushUntilIdle;
const resigned = (events: DeviceEvent[]) =>
  events.filter((e): e is Extract<DeviceEvent, { type: 'resigned' }> => e.type === 'resigned');
const nonceEvents = (events: DeviceEvent[]) =>
  events.filter((e): e is Extract<DeviceEvent, { type: 'nonceUnproven' }> => e.type === 'nonceUnproven');
const nonces = (w: OutcomeWard) => w.ledger.committed.map((c) => c.tx.nonce);
const proofKinds = ['genuine', 'none', 'garbage', 'stale', 'forged'] as const;
const accountKey = (w: OutcomeWard) => accountNonceKeyHex(fromHex(w.device.publicKeyHex));

t.test(
  'a true NONCE_TOO_LOW (the key was used elsewhere): proven, re-signed after it, delivered once',
  async (t) => {
    const w = await setup(t);
    const { ledger, nodes, device, events } = w;
    for (let i = 0; i < 4; i++) device.submitReadings(batch(i));
    ledger.forceNonce(device.publicKeyHex, 10); // a restored backup of the key sent ten transactions
    t.equal((await flush(device)).at(-1), 'idle');
    t.same(nonces(w), [11, 12, 13, 14], 'numbered after the proven nonce');
    t.same(committedReadings(ledger.committed), [0, 1, 2, 3].flatMap(batch));
    t.match(resigned(events), [{ reason: 'NONCE_TOO_LOW', count: 4, firstNonce: 11 }]);
    t.equal(device.lastAssignedNonce, 14);
    t.equal(device.submitReadings(batch(4)).nonce, 15, 'the next reading continues from there');
    t.ok(nodes[0]!.stateProofRequests.includes(accountKey(w)), 'the account nonce was proven');
    t.same(nodes[0]!.accountRequests, [], "the node's /v1/accounts is never asked");
    t.same(nonceEvents(events), []);
  },
);

for (const proof of proofKinds) {
  t.test(
    `a liar saying NONCE_TOO_LOW and nonce 50 (${proof} proofs), and an honest node: no re-sign, delivered`,
    async (t) => {
      const liar: Lie = { kind: 'claimsNonce', code: 'NONCE_TOO_LOW', nonce: 50, proof };
      const w = await setup(t, { lies: [liar, undefined] });
      const { ledger, nodes, device, events } = w;
      ledger.citeState(); // a first certified block, so that there is a state to prove against
      const first = device.submitReadings(batch(0));
      for (let i = 1; i < 3; i++) device.submitReadings(batch(i));
      t.equal((await flush(device)).at(-1), 'idle');
      t.same(resigned(events), [], 'never re-signed');
      t.same(nonces(w), [1, 2, 3], 'the same signatures, sent elsewhere');
      t.same(committedReadings(ledger.committed), [0, 1, 2].flatMap(batch));
      t.equal(device.client.currentNode, nodes[1]!.url, 'the liar is avoided');
      t.same(nodes[0]!.accountRequests, [], 'its account nonce is never asked');
      const ev = nonceEvents(events);
      t.equal(ev.length, 1, 'the lie is reported once its transaction is proven committed under that nonce');
      t.match(ev[0], { node: nodes[0]!.url, claim: 'NONCE_TOO_LOW', id: first.id, nonce: 1 });
      t.equal(ev[0]!.error.code, 'NONCE_UNPROVEN');
      t.equal(ev[0]!.error.problemCode, 'NONCE_CLAIM_FALSE');
      t.equal(device.lastAssignedNonce, 3);
    },
  );
}

const alone: [(typeof proofKinds)[number], string, string[]][] = [
  ['genuine', 'NONCE_NOT_PROVEN', []],
  ['stale', 'NONCE_NOT_PROVEN', []],
  ['none', 'NO_NONCE_PROOF', ['NO_CERTIFIED_STATE']],
  ['garbage', 'NO_NONCE_PROOF', ['MALFORMED']],
  ['forged', 'NO_NONCE_PROOF', ['STATE_PROOF_INVALID']],
];

for (const [proof, problemCode, reasons] of alone) {
  t.test(
    `a NONCE_TOO_LOW liar alone (${proof} proofs): kept, not re-signed, then ${problemCode}`,
    async (t) => {
      const liar: Lie = { kind: 'claimsNonce', code: 'NONCE_TOO_LOW', nonce: 50, proof };
      const w = await setup(t, { lies: [liar] });
      const { ledger, nodes, device, events, clock } = w;
      ledger.citeState();
      for (let i = 0; i < 3; i++) device.submitReadings(batch(i));
      t.same(await flush(device, 3), ['blocked', 'blocked', 'blocked'], 'backs off');
      t.same(resigned(events), []);
      t.same(nonceEvents(events), [], 'quiet while a certified state may still catch up');
      clock.now += NONCE_UNPROVEN_AFTER_MS;
      t.equal(await device.flushOnce(), 'blocked');
      const ev = nonceEvents(events);
      t.equal(ev.length, 1, 'then a precise error');
      t.match(ev[0], { node: nodes[0]!.url, claim: 'NONCE_TOO_LOW', nonce: 1 });
      t.equal(ev[0]!.error.code, 'NONCE_UNPROVEN');
      t.equal(ev[0]!.error.problemCode, problemCode);
      t.same(
        ev[0]!.reasons.map((r) => r.code),
        reasons,
      );
      if (problemCode === 'NONCE_NOT_PROVEN') t.match(ev[0]!.proven, { nonce: 0, node: nodes[0]!.url });
      else t.equal(ev[0]!.proven, undefined);
      await device.flushOnce();
      t.equal(nonceEvents(events).length, 1, 'once per period');
      t.equal(device.pendingCount, 3, 'kept');
      t.same(resigned(events), [], 'still the same signatures');
      t.equal(device.lastAssignedNonce, 3);
      t.same(nodes[0]!.accountRequests, []);
    },
  );
}

t.test('without requireOutcomeProof the liar is believed: the documented gap this closes', async (t) => {
  const liar: Lie = { kind: 'claimsNonce', code: 'NONCE_TOO_LOW', nonce: 50, proof: 'genuine' };
  const { nodes, device, events } = await setup(t, { lies: [liar], extra: { requireOutcomeProof: false } });
  device.submitReadings(batch(0));
  await flush(device, 2);
  t.match(resigned(events), [{ reason: 'NONCE_TOO_LOW', firstNonce: 51 }], 're-signed after its word');
  t.ok(nodes[0]!.accountRequests.length > 0, 'from its /v1/accounts');
  t.same(nodes[0]!.stateProofRequests, [], 'no proof asked');
});

t.test(
  'the certified state lags: a true NONCE_TOO_LOW waits for it, bounded, then is acted on',
  async (t) => {
    const w = await setup(t, { cite: 'manual' });
    const { ledger, device, events, clock } = w;
    for (let i = 0; i < 2; i++) device.submitReadings(batch(i));
    ledger.forceNonce(device.publicKeyHex, 10); // committed, but no certified header cites that state yet
    t.equal(await device.flushOnce(), 'blocked', 'not acted on yet');
    t.same(resigned(events), []);
    t.same(nonceEvents(events), [], 'quiet: the state may be about to be certified (ADR 0125)');
    clock.now += NONCE_UNPROVEN_AFTER_MS;
    t.equal(await device.flushOnce(), 'blocked');
    const ev = nonceEvents(events);
    t.equal(ev[0]?.error.problemCode, 'NONCE_NOT_PROVEN', 'past the bound, said precisely');
    t.match(ev[0]?.proven, { nonce: 0 });
    ledger.citeState(); // the chain certifies the state after the other holder's block
    for (let i = 0; i < 20 && device.pendingCount > 0; i++) {
      await device.flushOnce();
      ledger.citeState();
    }
    t.equal(device.pendingCount, 0);
    t.match(resigned(events), [{ reason: 'NONCE_TOO_LOW', count: 2, firstNonce: 11 }], 'once proven');
    t.same(nonces(w), [11, 12]);
    t.same(
      nonceEvents(events).map((e) => e.error.problemCode),
      ['NONCE_NOT_PROVEN'],
      'a true claim is never called false',
    );
  },
);

t.test('NONCE_GAP from a liar: refuted by the proven nonce at once, sent elsewhere', async (t) => {
  const liar: Lie = { kind: 'claimsNonce', code: 'NONCE_GAP', proof: 'genuine' };
  const w = await setup(t, { lies: [liar, undefined] });
  const { ledger, nodes, device, events } = w;
  ledger.citeState();
  device.submitReadings(batch(0));
  t.equal(await device.flushOnce(), 'blocked');
  const ev = nonceEvents(events);
  t.equal(ev.length, 1, 'at once: nonces never go down, so a proven 0 refutes a gap before 1');
  t.match(ev[0], { node: nodes[0]!.url, claim: 'NONCE_GAP', proven: { nonce: 0 } });
  t.equal(ev[0]!.error.problemCode, 'NONCE_CLAIM_FALSE');
  t.equal((await flush(device)).at(-1), 'idle');
  t.same(resigned(events), []);
  t.same(nonces(w), [1]);
});

t.test('without requireOutcomeProof a NONCE_GAP liar holds the device (the gap this closes)', async (t) => {
  const liar: Lie = { kind: 'claimsNonce', code: 'NONCE_GAP', proof: 'genuine' };
  const w = await setup(t, { lies: [liar, undefined], extra: { requireOutcomeProof: false } });
  w.device.submitReadings(batch(0));
  t.same(await flush(w.device, 4), ['blocked', 'blocked', 'blocked', 'blocked']);
  t.equal(w.device.client.currentNode, w.nodes[0]!.url, 'asked again and again');
  t.same(nonces(w), []);
});

t.test('ACCOUNT_LIMIT from a liar with a wrong nonce: no re-sync, delivered elsewhere', async (t) => {
  const liar: Lie = { kind: 'claimsNonce', code: 'ACCOUNT_LIMIT', nonce: 50, proof: 'genuine' };
  const w = await setup(t, { lies: [liar, undefined] });
  w.ledger.citeState();
  for (let i = 0; i < 3; i++) w.device.submitReadings(batch(i));
  t.equal((await flush(w.device)).at(-1), 'idle');
  t.same(resigned(w.events), [], 'no gap proven: nothing re-synced');
  t.same(nonces(w), [1, 2, 3]);
  t.equal(w.device.client.currentNode, w.nodes[1]!.url);
});

t.test(
  'a queue ahead of the chain (a proven gap): ACCOUNT_LIMIT re-syncs it from the proven nonce',
  async (t) => {
    const dataDir = tempDir(t);
    const signer = signerFromSeed(rng.bytes(32));
    // A nonce store four ahead of the chain (say, restored alongside a queue that never reached it).
    writeFileSync(join(dataDir, 'chain.json'), JSON.stringify({ chainId: CHAIN }));
    writeFileSync(
      join(dataDir, 'nonce.json'),
      JSON.stringify({ last: 4, key: Buffer.from(signer.publicKey).toString('hex') }),
    );
    const w = await outcomeWard(t, {
      chainId: CHAIN,
      validators: hospital,
      signer,
      patient: patientKey,
      t0: T0,
      extra: { dataDir },
    });
    w.ledger.citeState();
    for (let i = 0; i < 3; i++) w.device.submitReadings(batch(i));
    w.ledger.refuseNext = { code: 'ACCOUNT_LIMIT', count: 1 }; // "over the limit ahead" (a real node's rule)
    t.equal((await flush(w.device)).at(-1), 'idle');
    t.match(resigned(w.events), [{ reason: 'ACCOUNT_LIMIT', count: 3, firstNonce: 1 }]);
    t.same(nonces(w), [1, 2, 3]);
    t.same(committedReadings(w.ledger.committed), [0, 1, 2].flatMap(batch));
  },
);

t.test('a liar refusing fresh transactions as TIMESTAMP_OUT_OF_WINDOW cannot hold the device', async (t) => {
  const lie: Lie = { kind: 'refusesSubmissions', code: 'TIMESTAMP_OUT_OF_WINDOW' };
  const w = await setup(t, { lies: [lie, undefined] });
  w.device.submitReadings(batch(0));
  t.equal((await flush(w.device)).at(-1), 'idle');
  t.same(resigned(w.events), []);
  t.same(nonces(w), [1]);
  const old = await setup(t, { lies: [lie, undefined], extra: { requireOutcomeProof: false } });
  old.device.submitReadings(batch(0));
  await flush(old.device, 4);
  t.equal(old.device.pendingCount, 1, 'without proofs it asks the same node again and again');
  t.equal(old.device.client.currentNode, old.nodes[0]!.url);
});

t.test('a stale transaction refused TIMESTAMP_OUT_OF_WINDOW: re-signed under the same nonce', async (t) => {
  const w = await setup(t, { extra: { resignAfterMs: 86_400_000 } });
  w.device.submitReadings(batch(0));
  w.clock.now += 2 * 3_600_000; // two hours in the queue
  w.ledger.refuseNext = { code: 'TIMESTAMP_OUT_OF_WINDOW', count: 1 };
  t.equal((await flush(w.device)).at(-1), 'idle');
  t.match(resigned(w.events), [{ reason: 'TIMESTAMP_OUT_OF_WINDOW', count: 1, firstNonce: 1 }]);
  t.same(nonces(w), [1], 'same nonce: at most one version can commit');
  t.equal(w.ledger.committed[0]!.tx.timestamp, w.clock.now, 'new timestamp');
});
