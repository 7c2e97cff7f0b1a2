// Outcome proofs (DeviceConfig.requireOutcomeProof, ADR 0123): on a chain whose state commits to
// receipts, a device forgets readings only when a certified state shows the block ACCEPTED its own
// transaction, not merely carried it. The fake ledger keeps a real sparse-Merkle state of receipts
// roots, certified with real keys; lying fake nodes forge receipts, hide rejections or withhold outcomes.
// The device's clock is injected: the waits below are moved past by setting it, never by sleeping.
import { type Signer, signerFromSeed } from '@vigil/consensus/wire';
import t from 'tap';
import { makePatient, type Reading, sampleToReadings, sampleVitals } from '../sim/physiology.ts';
import { Rng } from '../sim/prng.ts';
import type { Lie } from '../testing/fake-node.ts';
import { committedReadings, flushUntilIdle, tempDir, unverifiedEvents, waitFor } from '../testing/helpers.ts';
import { type OutcomeWard, outcomeWard } from '../testing/outcome-device.ts';
import { toHex } from '../util/hex.ts';
import { trustedSetFromGenesis, trustFromGenesis } from './commit-trust.ts';
import {
  Device,
  type DeviceConfig,
  type DeviceEvent,
  OUTCOME_ASK_OTHERS_AFTER_MS,
  OUTCOME_UNAVAILABLE_AFTER_MS,
} from './device.ts';

const CHAIN = 'vigil-test';
const T0 = Date.UTC(2026, 0, 1);
const rng = new Rng(9123);
const patientKey = signerFromSeed(rng.bytes(32)).publicKey;
const patient = makePatient(1, 0);
const setOf = (n: number): Signer[] => Array.from({ length: n }, () => signerFromSeed(rng.bytes(32)));
const hospital = setOf(4);
const successors = setOf(4);
const keys = (s: readonly Signer[]) => s.map((v) => v.publicKey);
const batch = (i: number): Reading[] => sampleToReadings(sampleVitals(patient, T0 + i * 1000));

/** A ledger keeping receipts roots, one node per entry of `lies`, and a device requiring outcomes. */
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

t.test('an honest node serving outcomes: each entry leaves once its acceptance is proven', async (t) => {
  const { ledger, nodes, device, events } = await setup(t);
  for (let i = 0; i < 4; i++) device.submitReadings(batch(i));
  t.equal((await flush(device)).at(-1), 'idle');
  t.equal(device.pendingCount, 0);
  t.same(committedReadings(ledger.committed), [0, 1, 2, 3].flatMap(batch));
  t.equal(delivered(events).length, 4);
  t.ok(delivered(events).every((e) => e.type === 'delivered' && e.verified));
  t.same(
    [...nodes[0]!.proofRequests].sort(),
    ledger.committed.map((c) => c.id).sort(),
    'one proof request per transaction: the outcome comes with it',
  );
  t.same(unverified(events), []);
});

t.test('outcome not served yet: the entry stays quietly, then leaves once it is', async (t) => {
  const { ledger, nodes, device, events } = await setup(t, { lies: [undefined, undefined], cite: 'manual' });
  device.submitReadings(batch(0));
  t.same(await flush(device, 3), ['waiting', 'waiting', 'waiting'], 'polls on, no backoff');
  t.equal(device.pendingCount, 1, 'an inclusion proof alone does not delete it');
  t.same(unverified(events), [], 'no commitUnverified: a missing outcome is not a failure');
  t.same(nodes[1]!.proofRequests, [], 'within the grace period only the claimant is asked');
  ledger.citeState(); // the idle primary's block cites the state after the transaction's block
  t.equal((await flush(device)).at(-1), 'idle');
  t.equal(device.pendingCount, 0);
  t.equal(delivered(events).length, 1);
});

t.test('a state header in another epoch is checked against the set covering ITS height', async (t) => {
  const { ledger, device, events, cfg } = await setup(t, {
    cite: 'manual',
    extra: { validatorSets: [{ validators: keys(hospital), untilHeight: 1 }] },
  });
  device.submitReadings(batch(0));
  await flush(device, 2); // block 1, certified by the hospital's set
  ledger.certifyWith(successors); // the set changes; block 2 cites block 1's state
  ledger.citeState();
  await flush(device, 3);
  t.equal(device.pendingCount, 1, 'kept: no provisioned set covers the state header');
  t.equal(unverified(events)[0]?.error.problemCode, 'NO_TRUSTED_SET');
  device.close();
  const again = Device.open({
    ...cfg,
    validatorSets: [
      { validators: keys(hospital), untilHeight: 1 },
      { validators: keys(successors), fromHeight: 2 },
    ],
  });
  t.teardown(() => again.close());
  await flush(again);
  t.equal(again.pendingCount, 0, 'each header under its own epoch: delivered');
});

const forgeries: [string, Lie, string][] = [
  ['an accepted receipt in place of the rejected one', { kind: 'forgedReceipt' }, 'RECEIPT_PROOF_INVALID'],
  [
    'an accepted receipt under a receipts root of its own',
    { kind: 'forgedReceipt', ownRoot: true },
    'STATE_PROOF_INVALID',
  ],
];

for (const [what, lie, reason] of forgeries) {
  t.test(`a node claiming a rejected transaction committed, with ${what}: kept`, async (t) => {
    const { ledger, device, events } = await setup(t, { lies: [lie] });
    ledger.rejectNext = { code: 'READING_NOT_INCREASING', count: 1 };
    device.submitReadings(batch(0));
    const outcomes = await flush(device, 4);
    t.notOk(outcomes.includes('progress'));
    t.equal(ledger.rejected.length, 1, 'the block did carry it, and rejected it');
    t.equal(device.pendingCount, 1, 'kept');
    const ev = unverified(events);
    t.ok(ev.length >= 1);
    t.equal(ev[0]!.error.code, 'COMMIT_UNVERIFIED');
    t.equal(ev[0]!.error.problemCode, reason);
    t.same(delivered(events), []);
  });
}

t.test('a node claiming a rejected transaction committed, with the genuine proof: kept', async (t) => {
  const { ledger, nodes, device, events } = await setup(t, { lies: [{ kind: 'hidesRejection' }] });
  ledger.rejectNext = { code: 'READING_NOT_INCREASING', count: 1 };
  device.submitReadings(batch(0));
  t.equal((await flush(device, 4)).at(-1), 'blocked', 'backs off');
  t.equal(device.pendingCount, 1);
  const ev = unverified(events)[0]!;
  t.equal(ev.error.problemCode, 'RECEIPT_REJECTED', 'the proven receipt is the reason');
  t.match(ev.error.message, /READING_NOT_INCREASING/, "with the state machine's code");
  t.same(ev.reasons, [{ node: nodes[0]!.url, code: 'RECEIPT_REJECTED', detail: 'READING_NOT_INCREASING' }]);
});

t.test('the same liar with the inclusion check only: the documented gap this closes', async (t) => {
  const { ledger, device } = await setup(t, {
    lies: [{ kind: 'hidesRejection' }],
    extra: { requireOutcomeProof: false },
  });
  ledger.rejectNext = { code: 'READING_NOT_INCREASING', count: 1 };
  device.submitReadings(batch(0));
  await flush(device);
  t.equal(device.pendingCount, 0, 'forgotten: the inclusion proof verifies');
  t.same(ledger.committed, [], 'though the chain never stored the readings');
});

t.test('a liar hiding a rejection, then an honest node: the real rejection is handled', async (t) => {
  const { ledger, nodes, device, events } = await setup(t, {
    lies: [{ kind: 'hidesRejection' }, undefined],
  });
  ledger.rejectNext = { code: 'READING_NOT_INCREASING', count: 1 };
  device.submitReadings(batch(0));
  await flush(device);
  t.equal(unverified(events)[0]?.error.problemCode, 'RECEIPT_REJECTED');
  t.equal(device.client.currentNode, nodes[1]!.url, 'the liar is avoided');
  t.same(delivered(events), [], 'never delivered');
  t.match(
    events.filter((e) => e.type === 'deadLetter'),
    [{ code: 'READING_NOT_INCREASING' }],
    'the honest status sends it down the repair path: dead-lettered with the real code, kept on disk',
  );
  t.equal(device.pendingCount, 0);
});

t.test('a node withholding outcomes while another serves them: delivered via the other', async (t) => {
  const { nodes, device, events, clock } = await setup(t, {
    lies: [{ kind: 'withholdsOutcome' }, undefined],
  });
  device.submitReadings(batch(0));
  t.equal((await flush(device, 2)).at(-1), 'waiting');
  t.equal(device.pendingCount, 1, 'the claimant alone is asked at first');
  clock.now += OUTCOME_ASK_OTHERS_AFTER_MS;
  t.equal((await flush(device)).at(-1), 'idle');
  t.equal(device.pendingCount, 0);
  t.ok(nodes[1]!.proofRequests.length >= 1, 'proven by the other node');
  t.same(unverified(events), [], 'nothing to report: a late outcome is not a lie');
});

t.test('no node serving the outcome for longer than the bound: OUTCOME_UNAVAILABLE, kept', async (t) => {
  const { ledger, nodes, device, events, clock } = await setup(t, {
    lies: [{ kind: 'withholdsOutcome' }, { kind: 'withholdsOutcome' }],
  });
  device.submitReadings(batch(0));
  await flush(device, 2);
  clock.now += OUTCOME_UNAVAILABLE_AFTER_MS - 1;
  await flush(device, 2);
  t.same(unverified(events), [], 'quiet within the bound');
  clock.now += 1;
  t.equal(await device.flushOnce(), 'blocked', 'backs off once it says so');
  const ev = unverified(events);
  t.equal(ev.length, 1);
  t.equal(ev[0]!.error.code, 'COMMIT_UNVERIFIED');
  t.equal(ev[0]!.error.problemCode, 'OUTCOME_UNAVAILABLE');
  t.same(
    ev[0]!.reasons,
    nodes.map((n) => ({ node: n.url, code: 'OUTCOME_ABSENT' })),
    'after asking every node',
  );
  t.equal(device.pendingCount, 1, 'kept');
  await flush(device, 3);
  t.equal(unverified(events).length, 1, 'said once per period, not per poll');
  clock.now += OUTCOME_UNAVAILABLE_AFTER_MS;
  await flush(device, 1);
  t.equal(unverified(events).length, 2, 'and again after another');
  t.equal(device.pendingCount, 1);
  t.equal(ledger.committed.length, 1);
});

t.test('the run loop says why it backs off: OUTCOME_UNAVAILABLE, not a generic reason', async (t) => {
  const { device, events, clock } = await setup(t, {
    lies: [{ kind: 'withholdsOutcome' }, { kind: 'withholdsOutcome' }],
  });
  device.submitReadings(batch(0));
  await flush(device, 2);
  clock.now += OUTCOME_UNAVAILABLE_AFTER_MS;
  const ac = new AbortController();
  const running = device.run(ac.signal, { pollMs: 1 });
  await waitFor(() => events.some((e) => e.type === 'blocked'), 'a blocked event');
  ac.abort();
  await running;
  const blocked = events.find((e) => e.type === 'blocked') as Extract<DeviceEvent, { type: 'blocked' }>;
  t.match(blocked.reason, /OUTCOME_UNAVAILABLE/);
});

t.test('an earlier signed version that committed: its acceptance is proven too', async (t) => {
  const { ledger, device, cfg, events, clock } = await setup(t);
  ledger.commitMode = 'manual';
  device.submitReadings(batch(0));
  t.equal(await device.flushOnce(), 'waiting');
  ledger.commitPending(); // committed, but the device crashes before it learns so
  device.close();
  clock.now += 30 * 60_000; // then it re-signs the stale entry (same nonce) on restart
  const again = Device.open(cfg);
  t.teardown(() => again.close());
  ledger.commitMode = 'immediate';
  await flush(again);
  t.equal(again.pendingCount, 0);
  t.equal(ledger.committed.length, 1, 'not twice');
  t.ok(events.some((e) => e.type === 'resigned'));
  t.ok(events.some((e) => e.type === 'delivered' && e.verified));
});

t.test('configuration: outcome proofs need a validator set; trustFromGenesis reads the flag', async (t) => {
  t.throws(
    () =>
      Device.open({
        dataDir: tempDir(t),
        chainId: CHAIN,
        patient: patientKey,
        signer: signerFromSeed(rng.bytes(32)),
        nodes: ['http://127.0.0.1:1'],
        requireOutcomeProof: true,
        log: () => {},
      }),
    { code: 'USAGE' },
  );
  const genesis = {
    chainId: CHAIN,
    validators: hospital.map((v, i) => ({ name: `v${i}`, orgId: 'org', publicKey: toHex(v.publicKey) })),
    consensus: { stateRootInterval: 1, receiptsRoots: true },
  };
  const trust = trustFromGenesis(genesis);
  t.equal(trust.requireOutcomeProof, true);
  t.same(trust.validatorSets, [trustedSetFromGenesis(genesis)]);
  t.equal(trustFromGenesis({ ...genesis, consensus: { stateRootInterval: 1 } }).requireOutcomeProof, false);
  t.equal(trustFromGenesis({ ...genesis, consensus: undefined }).requireOutcomeProof, false);
  t.throws(() => trustFromGenesis({ ...genesis, consensus: { receiptsRoots: 'yes' } }), { code: 'USAGE' });
  t.throws(() => trustFromGenesis({ consensus: { receiptsRoots: true } }), { code: 'USAGE' });
});
