// Rejections under requireOutcomeProof (ADR 0123, docs/sensor-client.md "Verified commits"): a node's
// word that a transaction was REJECTED is what makes a device re-sign later entries and dead-letter the
// readings (out of the queue, never delivered), so a device acts on it only once a certified state
// proves the block rejected its own bytes with that code. A Byzantine node saying `rejected` for an
// accepted transaction, or for one it never passed on, or refusing a submission with a code the
// device can check itself, makes the device keep the readings and go elsewhere, never give them up.
// The fake ledger keeps a real sparse-Merkle state of receipts roots certified with real keys; the
// device's clock is injected and moved by the tests, never slept on.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeTransaction, encodeTransaction, signerFromSeed } from '@vigil/consensus/wire';
import t from 'tap';
import { makePatient, type Reading, sampleToReadings, sampleVitals } from '../sim/physiology.ts';
import { Rng } from '../sim/prng.ts';
import type { Lie } from '../testing/fake-node.ts';
import { committedReadings, flushUntilIdle, unverifiedEvents } from '../testing/helpers.ts';
import { type OutcomeWard, outcomeWard } from '../testing/outcome-device.ts';
import { type DeviceConfig, type DeviceEvent, OUTCOME_UNAVAILABLE_AFTER_MS } from './device.ts';
import { refusalHolds } from './refusals.ts';
import { buildSubmitReadings } from './transactions.ts';

const CHAIN = 'vigil-test';
const T0 = Date.UTC(2026, 0, 1);
const rng = new Rng(4711);
const patientKey = signerFromSeed(rng.bytes(32)).publicKey;
const patient = makePatient(2, 0);
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
const unverified = unverifiedEvents;
const delivered = (events: DeviceEvent[]) => events.filter((e) => e.type === 'delivered');
const deadLetters = (events: DeviceEvent[]) =>
  events.filter((e): e is Extract<DeviceEvent, { type: 'deadLetter' }> => e.type === 'deadLetter');

/** The codes in `dir`/deadletter.jsonl (none when the file does not exist). */
function deadLetterFile(dir: string): string[] {
  let text: string;
  try {
    text = readFileSync(join(dir, 'deadletter.jsonl'), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as { code: string }).code);
}

t.test('an honest, proven rejection: dead-lettered with its code, the rest delivered', async (t) => {
  const { ledger, nodes, device, events, cfg } = await setup(t);
  ledger.rejectNext = { code: 'READING_NOT_INCREASING', count: 1 };
  const first = device.submitReadings(batch(0));
  for (let i = 1; i < 3; i++) device.submitReadings(batch(i));
  t.equal((await flush(device)).at(-1), 'idle');
  t.same(
    deadLetters(events).map((e) => [e.id, e.code]),
    [[first.id, 'READING_NOT_INCREASING']],
  );
  t.same(deadLetterFile(cfg.dataDir), ['READING_NOT_INCREASING'], 'kept on disk with the code');
  t.ok(nodes[0]!.proofRequests.includes(first.id), 'the rejection was proven, not believed');
  t.same(committedReadings(ledger.committed), [1, 2].flatMap(batch));
  t.equal(delivered(events).length, 2);
  t.same(unverified(events), []);
});

t.test('a liar saying rejected for an accepted transaction: proven accepted, delivered', async (t) => {
  const liar: Lie = { kind: 'claimsRejection', code: 'READING_NOT_INCREASING', proof: 'genuine' };
  const { ledger, nodes, device, events, cfg } = await setup(t, { lies: [liar, undefined] });
  const sent = device.submitReadings(batch(0));
  t.equal((await flush(device)).at(-1), 'idle');
  t.equal(device.pendingCount, 0);
  t.same(deadLetters(events), [], 'nothing dead-lettered');
  t.same(deadLetterFile(cfg.dataDir), []);
  t.match(delivered(events), [{ id: sent.id, verified: true }], 'delivered: its acceptance is proven');
  const ev = unverified(events);
  t.equal(ev.length, 1);
  t.equal(ev[0]!.node, nodes[0]!.url, 'the claimant is named');
  t.equal(ev[0]!.error.code, 'COMMIT_UNVERIFIED');
  t.equal(ev[0]!.error.problemCode, 'RECEIPT_ACCEPTED', 'the lie is reported');
  t.match(ev[0]!.error.message, /READING_NOT_INCREASING/, 'with the code it claimed');
  t.equal(device.client.currentNode, nodes[1]!.url, 'the liar is avoided');
  t.same(committedReadings(ledger.committed), batch(0), 'on the chain once');
});

const unprovable: [string, Lie][] = [
  ['no proof', { kind: 'claimsRejection', code: 'READING_NOT_INCREASING', proof: 'none' }],
  ['a forged rejected receipt', { kind: 'claimsRejection', code: 'READING_NOT_INCREASING', proof: 'forged' }],
  ['a garbage proof', { kind: 'claimsRejection', code: 'READING_NOT_INCREASING', proof: 'garbage' }],
];

for (const [what, liar] of unprovable) {
  t.test(`a liar saying rejected with ${what}, and an honest node: the truth wins`, async (t) => {
    const { ledger, nodes, device, events, cfg } = await setup(t, { lies: [liar, undefined] });
    device.submitReadings(batch(0));
    t.equal((await flush(device)).at(-1), 'idle');
    t.same(deadLetters(events), []);
    t.same(deadLetterFile(cfg.dataDir), []);
    t.equal(delivered(events).length, 1, 'delivered: the honest node proved the acceptance');
    t.ok(nodes[1]!.proofRequests.length >= 1);
    t.equal(unverified(events)[0]?.error.problemCode, 'RECEIPT_ACCEPTED');
    t.equal(device.client.currentNode, nodes[1]!.url, 'the liar is avoided');
    t.same(committedReadings(ledger.committed), batch(0));
  });

  t.test(`a liar saying rejected with ${what}, alone: kept, never dead-lettered`, async (t) => {
    const { device, events, cfg } = await setup(t, { lies: [liar] });
    device.submitReadings(batch(0));
    const outcomes = await flush(device, 4);
    t.equal(outcomes.at(-1), 'blocked', 'backs off');
    t.equal(device.pendingCount, 1, 'kept');
    t.same(deadLetters(events), []);
    t.same(deadLetterFile(cfg.dataDir), []);
    t.same(delivered(events), [], 'nor delivered: nothing proves it either way');
    const ev = unverified(events)[0]!;
    t.equal(ev.error.code, 'COMMIT_UNVERIFIED');
    t.equal(ev.error.problemCode, 'REJECTION_UNPROVEN');
  });
}

t.test('a true rejection claimed by a node without proof: the honest proof decides the code', async (t) => {
  const liar: Lie = { kind: 'claimsRejection', code: 'DEVICE_NOT_BOUND', proof: 'none' };
  const { ledger, device, events, cfg } = await setup(t, { lies: [liar, undefined] });
  ledger.rejectNext = { code: 'READING_NOT_INCREASING', count: 1 };
  device.submitReadings(batch(0));
  t.equal((await flush(device)).at(-1), 'idle');
  t.same(
    deadLetters(events).map((e) => e.code),
    ['READING_NOT_INCREASING'],
    'dead-lettered with the proven code, not the claimed one',
  );
  t.same(deadLetterFile(cfg.dataDir), ['READING_NOT_INCREASING']);
  t.same(delivered(events), []);
});

t.test('a liar that swallowed the submission and says rejected: resent, delivered', async (t) => {
  const liar: Lie = { kind: 'claimsRejection', code: 'READING_NOT_INCREASING', proof: 'none', swallow: true };
  const { ledger, nodes, device, events } = await setup(t, { lies: [liar, undefined] });
  device.submitReadings(batch(0));
  t.equal((await flush(device)).at(-1), 'idle');
  t.same(deadLetters(events), []);
  const ev = unverified(events)[0]!;
  t.equal(ev.error.problemCode, 'REJECTION_UNPROVEN');
  t.same(
    ev.reasons.map((r) => r.code),
    ['TX_NOT_FOUND', 'TX_NOT_FOUND'],
    'no node has it in a block',
  );
  t.equal(device.client.currentNode, nodes[1]!.url, 'the liar is avoided');
  t.equal(delivered(events).length, 1, 'sent again, to the honest node, and proven');
  t.same(committedReadings(ledger.committed), batch(0));
});

t.test('a rejection whose outcome is not served yet: kept quietly, then acted on', async (t) => {
  const { ledger, device, events, clock } = await setup(t, { cite: 'manual' });
  ledger.rejectNext = { code: 'READING_NOT_INCREASING', count: 1 };
  device.submitReadings(batch(0));
  t.same(await flush(device, 3), ['waiting', 'waiting', 'waiting'], 'polls on, no backoff');
  t.equal(ledger.rejected.length, 1, 'the block did reject it');
  t.equal(device.pendingCount, 1, 'kept: an inclusion proof does not show the rejection');
  t.same(deadLetters(events), []);
  t.same(unverified(events), [], 'not a failure');
  clock.now += OUTCOME_UNAVAILABLE_AFTER_MS;
  t.equal(await device.flushOnce(), 'blocked', 'the same bound as for acceptances');
  t.equal(unverified(events)[0]?.error.problemCode, 'OUTCOME_UNAVAILABLE');
  t.equal(device.pendingCount, 1, 'still kept');
  t.same(deadLetters(events), []);
  ledger.citeState();
  t.equal((await flush(device)).at(-1), 'idle');
  t.same(
    deadLetters(events).map((e) => e.code),
    ['READING_NOT_INCREASING'],
    'dead-lettered once proven',
  );
});

t.test('a proven receipt that is not final for the id (NONCE_GAP): not acted on', async (t) => {
  // A Byzantine primary can put a device's transaction in a block before its predecessor: the block's
  // receipt for those very bytes is a certified NONCE_GAP, yet the transaction may commit later.
  const { ledger, device, events } = await setup(t);
  ledger.rejectNext = { code: 'NONCE_GAP', count: 1 };
  device.submitReadings(batch(0));
  await flush(device, 4);
  t.equal(device.pendingCount, 1, 'kept');
  t.same(deadLetters(events), []);
  const ev = unverified(events)[0]!;
  t.equal(ev.error.problemCode, 'REJECTION_UNPROVEN');
  t.same(ev.reasons, [{ node: ev.node, code: 'RECEIPT_NOT_FINAL', detail: 'NONCE_GAP' }]);
});

t.test('without requireOutcomeProof a rejection is believed: the documented gap this closes', async (t) => {
  const liar: Lie = { kind: 'claimsRejection', code: 'READING_NOT_INCREASING', proof: 'none' };
  const { ledger, device, events } = await setup(t, {
    lies: [liar],
    extra: { requireOutcomeProof: false },
  });
  device.submitReadings(batch(0));
  await flush(device);
  t.same(
    deadLetters(events).map((e) => e.code),
    ['READING_NOT_INCREASING'],
    'dead-lettered on its word',
  );
  t.same(committedReadings(ledger.committed), batch(0), 'though the chain accepted the readings');
});

// Admission refusals are a node's answer to a submission, not a claim about the chain. Those that
// depend only on the bytes and the chain id the device checks itself; any other code is no ground to
// dead-letter on one node's word.
for (const code of ['MALFORMED', 'BAD_SIGNATURE', 'WRONG_CHAIN', 'TX_TOO_LARGE', 'NOT_A_REAL_CODE']) {
  t.test(`a liar refusing a good submission as ${code}: kept, sent elsewhere`, async (t) => {
    const { ledger, nodes, device, events, cfg } = await setup(t, {
      lies: [{ kind: 'refusesSubmissions', code }, undefined],
    });
    device.submitReadings(batch(0));
    t.equal((await flush(device)).at(-1), 'idle');
    t.same(deadLetters(events), []);
    t.same(deadLetterFile(cfg.dataDir), []);
    const ev = unverified(events)[0]!;
    t.equal(ev.error.problemCode, 'REFUSAL_UNFOUNDED');
    t.same(ev.reasons, [{ node: nodes[0]!.url, code, detail: 'refused by a liar' }]);
    t.equal(device.client.currentNode, nodes[1]!.url, 'the liar is avoided');
    t.equal(delivered(events).length, 1);
    t.same(committedReadings(ledger.committed), batch(0));
  });
}

t.test('a refusing liar alone: kept, never dead-lettered; believed without the option', async (t) => {
  const { device, events } = await setup(t, { lies: [{ kind: 'refusesSubmissions', code: 'MALFORMED' }] });
  device.submitReadings(batch(0));
  t.equal((await flush(device, 3)).at(-1), 'blocked');
  t.equal(device.pendingCount, 1);
  t.same(deadLetters(events), []);
  const old = await setup(t, {
    lies: [{ kind: 'refusesSubmissions', code: 'MALFORMED' }],
    extra: { requireOutcomeProof: false },
  });
  old.device.submitReadings(batch(0));
  await flush(old.device);
  t.same(
    deadLetters(old.events).map((e) => e.code),
    ['MALFORMED'],
    'today without requireOutcomeProof',
  );
});

t.test("refusalHolds: the device's own check of its bytes", async (t) => {
  const signer = signerFromSeed(rng.bytes(32));
  const ctx = { chainId: CHAIN, signer, nonce: 1, timestamp: T0 };
  const good = buildSubmitReadings(ctx, patientKey, batch(0)).bytes;
  for (const code of ['MALFORMED', 'BAD_SIGNATURE', 'WRONG_CHAIN', 'TX_TOO_LARGE', 'ANYTHING']) {
    t.equal(refusalHolds(code, good, CHAIN), false, `good bytes: ${code} does not hold`);
  }
  const tx = decodeTransaction(good);
  const badSig = encodeTransaction({ ...tx, signature: new Uint8Array(64) });
  t.equal(refusalHolds('BAD_SIGNATURE', badSig, CHAIN), true);
  t.equal(refusalHolds('MALFORMED', badSig, CHAIN), false);
  t.equal(refusalHolds('WRONG_CHAIN', good, 'another-chain'), true);
  t.equal(refusalHolds('MALFORMED', good, 'another-chain'), false, 'WRONG_CHAIN is its own code');
  t.equal(refusalHolds('MALFORMED', good.subarray(0, good.length - 1), CHAIN), true);
  t.equal(refusalHolds('TX_TOO_LARGE', new Uint8Array(64 * 1024 + 1), CHAIN), true);
});
