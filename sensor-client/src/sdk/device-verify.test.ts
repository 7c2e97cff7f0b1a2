// Commit confirmation against a trust anchor (DeviceConfig.validatorSets): a device forgets readings only
// when a quorum of a validator set it was given certifies the block holding its own transaction bytes.
// The fake ledger certifies blocks with real keys and the wire module's encoders; lying fake nodes claim
// commits and back them with no proof or forged ones.
import { type Signer, signerFromSeed } from '@vigil/consensus/wire';
import t from 'tap';
import { makePatient, type Reading, sampleToReadings, sampleVitals } from '../sim/physiology.ts';
import { Rng } from '../sim/prng.ts';
import { FakeLedger, FakeNode, type Lie } from '../testing/fake-node.ts';
import { committedReadings, flushUntilIdle, tempDir, unverifiedEvents } from '../testing/helpers.ts';
import { toHex } from '../util/hex.ts';
import { checkTrustedSets, trustedSetFromGenesis } from './commit-trust.ts';
import { Device, type DeviceConfig, type DeviceEvent } from './device.ts';
import { SdkError } from './errors.ts';

const CHAIN = 'vigil-test';
const T0 = Date.UTC(2026, 0, 1);
const rng = new Rng(4242);
const patientKey = signerFromSeed(rng.bytes(32)).publicKey;
const patient = makePatient(1, 0);
const setOf = (n: number): Signer[] => Array.from({ length: n }, () => signerFromSeed(rng.bytes(32)));
/** The hospital's validators (epoch 0), and another set (a later epoch, or another network). */
const hospital = setOf(4);
const strangers = setOf(4);
const keys = (s: readonly Signer[]) => s.map((v) => v.publicKey);

const batch = (i: number): Reading[] => sampleToReadings(sampleVitals(patient, T0 + i * 1000));

interface Setup {
  ledger: FakeLedger;
  nodes: FakeNode[];
  device: Device;
  events: DeviceEvent[];
  logs: string[];
  cfg: DeviceConfig;
}

/** A certified ledger, one node per entry of `lies` (undefined = honest), and a device over them all. */
async function setup(
  t: { teardown(fn: () => unknown): void },
  opts: { lies?: (Lie | undefined)[]; extra?: Partial<DeviceConfig> } = {},
): Promise<Setup> {
  const ledger = new FakeLedger(CHAIN);
  ledger.certifyWith(hospital);
  const nodes: FakeNode[] = [];
  for (const lie of opts.lies ?? [undefined]) {
    const n = new FakeNode(ledger, 0, lie ? { lie } : {});
    await n.start();
    t.teardown(() => n.stop());
    nodes.push(n);
  }
  const events: DeviceEvent[] = [];
  const logs: string[] = [];
  const cfg: DeviceConfig = {
    dataDir: tempDir(t),
    chainId: CHAIN,
    patient: patientKey,
    signer: signerFromSeed(rng.bytes(32)),
    nodes: nodes.map((n) => n.url),
    backoff: { baseMs: 2, capMs: 20 },
    client: { timeoutMs: 2_000 },
    validatorSets: [{ validators: keys(hospital) }],
    onEvent: (e) => events.push(e),
    log: (m) => logs.push(m),
    ...opts.extra,
  };
  const device = Device.open(cfg);
  t.teardown(() => device.close());
  return { ledger, nodes, device, events, logs, cfg };
}

const flush = flushUntilIdle;

const unverified = unverifiedEvents;

t.test('an honest node: entries leave the queue after their proofs verify, one proof each', async (t) => {
  const { ledger, nodes, device, events, logs } = await setup(t);
  for (let i = 0; i < 5; i++) device.submitReadings(batch(i));
  t.same((await flush(device)).at(-1), 'idle');
  t.equal(device.pendingCount, 0);
  t.same(committedReadings(ledger.committed), [0, 1, 2, 3, 4].flatMap(batch));
  const delivered = events.filter((e) => e.type === 'delivered');
  t.equal(delivered.length, 5);
  t.ok(delivered.every((e) => e.type === 'delivered' && e.verified && e.height !== undefined));
  t.same(
    [...nodes[0]!.proofRequests].sort(),
    ledger.committed.map((c) => c.id).sort(),
    'exactly one proof request per committed transaction',
  );
  t.notOk(
    events.some((e) => e.type === 'trustWarning' || e.type === 'commitUnverified'),
    'no warnings',
  );
  t.same(logs, []);
});

const lies: [string, Lie, string][] = [
  ['no proof at all', { kind: 'noProof' }, 'TX_NOT_FOUND'],
  ['a quorum of another validator set', { kind: 'strangers', signers: strangers }, 'CERT_BAD_SIGNATURE'],
  [
    'its own vote only (one Byzantine validator of four)',
    { kind: 'minority', signers: hospital, colluders: [2] },
    'CERT_NO_QUORUM',
  ],
  ['the genuine proof of another transaction', { kind: 'otherTx' }, 'TX_PROOF_INVALID'],
];

for (const [what, lie, reason] of lies) {
  t.test(`a lying node backing its commit claim with ${what}: readings stay queued`, async (t) => {
    const { ledger, device, events, cfg } = await setup(t, { lies: [lie] });
    if (lie.kind === 'otherTx') {
      // Something genuinely committed (another device's batch) for the liar to point at.
      const honest = new FakeNode(ledger);
      await honest.start();
      t.teardown(() => honest.stop());
      const other = Device.open({
        ...cfg,
        dataDir: tempDir(t),
        signer: signerFromSeed(rng.bytes(32)),
        nodes: [honest.url],
        onEvent: () => {},
      });
      t.teardown(() => other.close());
      other.submitReadings(batch(0));
      await flush(other);
      t.equal(ledger.committed.length, 1);
    }
    for (let i = 0; i < 3; i++) device.submitReadings(batch(i));
    const outcomes = await flush(device, 6);
    t.notOk(outcomes.includes('progress'), 'nothing was delivered');
    t.equal(outcomes.at(-1), 'blocked', 'the run loop backs off rather than polling');
    t.equal(device.pendingCount, 3, 'every entry is still queued');
    const ev = unverified(events);
    t.ok(ev.length >= 1, 'commitUnverified fired');
    t.ok(ev[0]!.error instanceof SdkError);
    t.equal(ev[0]!.error.code, 'COMMIT_UNVERIFIED');
    t.equal(ev[0]!.error.problemCode, reason, 'the reason is the verifier code');
    t.notOk(events.some((e) => e.type === 'delivered'));
  });
}

t.test('a liar first, an honest node second: the device moves on and delivers once', async (t) => {
  const { ledger, nodes, device, events } = await setup(t, { lies: [{ kind: 'noProof' }, undefined] });
  for (let i = 0; i < 4; i++) device.submitReadings(batch(i));
  t.equal((await flush(device, 30)).at(-1), 'idle');
  t.equal(device.pendingCount, 0);
  t.same(committedReadings(ledger.committed), [0, 1, 2, 3].flatMap(batch), 'every reading exactly once');
  const ev = unverified(events);
  t.ok(ev.length >= 1, 'the lie was reported');
  t.equal(ev[0]!.node, nodes[0]!.url, 'naming the node that claimed the commit');
  t.same(
    ev[0]!.reasons.map((r) => r.node),
    [nodes[0]!.url, nodes[1]!.url],
    'after asking every configured node',
  );
  t.ok(events.filter((e) => e.type === 'delivered').every((e) => e.type === 'delivered' && e.verified));
  t.equal(device.client.currentNode, nodes[1]!.url, 'the liar is no longer the preferred node');
});

t.test('an honest node whose blocks another validator set certifies: refused', async (t) => {
  // The device was provisioned for a different network (or a set that has since been replaced).
  const { device, events } = await setup(t, { extra: { validatorSets: [{ validators: keys(strangers) }] } });
  device.submitReadings(batch(0));
  await flush(device, 4);
  t.equal(device.pendingCount, 1);
  t.equal(unverified(events)[0]?.error.problemCode, 'CERT_BAD_SIGNATURE');
});

t.test('a validator-set change: unknown epochs stay queued until the new set is provisioned', async (t) => {
  const { ledger, device, events, cfg } = await setup(t, {
    extra: { validatorSets: [{ validators: keys(hospital), untilHeight: 2 }] },
  });
  device.submitReadings(batch(0));
  device.submitReadings(batch(1));
  await flush(device);
  t.equal(device.pendingCount, 0, 'blocks 1 and 2 are in the provisioned epoch');
  ledger.certifyWith(strangers); // governance replaced the set from height 3 on
  device.submitReadings(batch(2));
  await flush(device, 4);
  t.equal(device.pendingCount, 1, 'block 3 is certified by a set the device does not know');
  t.equal(unverified(events)[0]?.error.problemCode, 'NO_TRUSTED_SET');
  device.close();
  // The operator re-provisions: the old set bounded, the new one from its first height.
  const again = Device.open({
    ...cfg,
    validatorSets: [
      { validators: keys(hospital), untilHeight: 2 },
      { validators: keys(strangers), fromHeight: 3 },
    ],
  });
  t.teardown(() => again.close());
  t.equal(again.pendingCount, 1, 'the entry survived');
  await flush(again);
  t.equal(again.pendingCount, 0, 'and is delivered once the new set is known');
  t.same(committedReadings(ledger.committed), [0, 1, 2].flatMap(batch), 'exactly once');
});

t.test('an earlier signed version that committed is proven with the bytes the entry kept', async (t) => {
  let now = T0;
  const { ledger, device, cfg, events } = await setup(t, { extra: { now: () => now } });
  ledger.commitMode = 'manual';
  device.submitReadings(batch(0));
  t.equal(await device.flushOnce(), 'waiting');
  ledger.commitPending(); // committed, but the device crashes before it learns so
  device.close();
  now += 30 * 60_000; // then it re-signs the stale entry (same nonce) on restart
  const again = Device.open({ ...cfg, now: () => now });
  t.teardown(() => again.close());
  ledger.commitMode = 'immediate';
  await flush(again);
  t.equal(again.pendingCount, 0);
  t.equal(ledger.committed.length, 1, 'not twice');
  t.ok(events.some((e) => e.type === 'resigned'));
  t.ok(events.some((e) => e.type === 'delivered' && e.verified));
});

t.test('without validator sets: the old behaviour, and a one-time warning at open', async (t) => {
  const { ledger, nodes, device, events, logs } = await setup(t, { extra: { validatorSets: undefined } });
  const warnings = events.filter((e) => e.type === 'trustWarning');
  t.equal(warnings.length, 1);
  t.match(warnings[0], { code: 'NO_TRUST_ANCHOR' });
  t.match(logs, [/commits are taken on the node's word/]);
  for (let i = 0; i < 3; i++) device.submitReadings(batch(i));
  await flush(device);
  t.equal(device.pendingCount, 0);
  t.equal(ledger.committed.length, 3);
  t.same(nodes[0]!.proofRequests, [], 'no proofs fetched');
  t.ok(events.filter((e) => e.type === 'delivered').every((e) => e.type === 'delivered' && !e.verified));
  t.equal(events.filter((e) => e.type === 'trustWarning').length, 1, 'warned once, not per delivery');
  t.equal(logs.length, 1);
});

t.test(
  'without validator sets a lying node still makes the device drop readings (the documented risk)',
  async (t) => {
    const { ledger, device } = await setup(t, {
      lies: [{ kind: 'noProof' }],
      extra: { validatorSets: undefined },
    });
    device.submitReadings(batch(0));
    await flush(device);
    t.equal(device.pendingCount, 0, "forgotten on the node's word");
    t.equal(ledger.committed.length, 0, 'and never on the ledger');
  },
);

t.test('trust anchor configuration', async (t) => {
  t.throws(() => checkTrustedSets([]), { code: 'USAGE' });
  t.throws(() => checkTrustedSets([{ validators: [] }]), { code: 'USAGE' });
  t.throws(() => checkTrustedSets([{ validators: [new Uint8Array(31)] }]), { code: 'USAGE' });
  t.throws(() => checkTrustedSets([{ validators: keys(hospital), fromHeight: 5, untilHeight: 4 }]), {
    code: 'USAGE',
  });
  const genesis = {
    chainId: CHAIN,
    validators: hospital.map((v, i) => ({ name: `v${i}`, orgId: 'org', publicKey: toHex(v.publicKey) })),
  };
  const set = trustedSetFromGenesis(genesis);
  t.same(
    set.validators.map(toHex),
    hospital.map((v) => toHex(v.publicKey)),
    'in index order',
  );
  t.equal(set.fromHeight, 1);
  t.throws(() => trustedSetFromGenesis({ validators: [{ publicKey: 'xyz' }] }), { code: 'USAGE' });
  t.throws(() => trustedSetFromGenesis({}), { code: 'USAGE' });
});
