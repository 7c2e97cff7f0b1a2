import t from 'tap';
import type { TxBody } from '@vigil/consensus/wire/bodies/index.ts';
import { governanceQuorum, validatorChangeHeight } from './handlers/governance.ts';
import { Keys } from './keys.ts';
import { Codec, readRecord } from './records.ts';
import { Harness } from './testing/harness.ts';
import { DAY, T0, World } from './testing/world.ts';

t.test('governance quorum is PBFT q over organisations (2f+1 when n = 3f+1)', async (t) => {
  t.same([1, 2, 3, 4, 5, 6, 7, 10].map(governanceQuorum), [1, 2, 2, 3, 4, 4, 5, 7]);
  for (let f = 0; f < 10; f++) t.equal(governanceQuorum(3 * f + 1), 2 * f + 1);
  t.equal(validatorChangeHeight(0, 100), 200);
  t.equal(validatorChangeHeight(199, 100), 300);
  t.equal(validatorChangeHeight(200, 100), 400);
});

t.test('registering an organisation needs 3 of 4 organisations, one vote each, before expiry', async (t) => {
  const w = new World();
  const newAdmin = w.actor();
  const propose: TxBody = {
    type: 1,
    proposal: { action: 1, orgId: 'org-e', name: 'E', admins: [newAdmin.key] },
  };
  t.equal((await w.run(w.stranger, propose)).code, 'NOT_ORG_ADMIN');
  const p = await w.run(w.admins[0]!, propose);
  t.ok(p.ok, 'proposed (counts as org-a approval)');
  const approve: TxBody = { type: 2, proposalId: p.txId };
  t.equal((await w.run(w.coAdmin, approve)).code, 'ALREADY_APPROVED', 'one vote per organisation');
  t.equal((await w.run(w.admins[0]!, approve)).code, 'ALREADY_APPROVED');
  t.equal((await w.run(w.stranger, approve)).code, 'NOT_ORG_ADMIN');
  t.equal((await w.run(w.admins[1]!, { type: 2, proposalId: new Uint8Array(32) })).code, 'UNKNOWN_PROPOSAL');
  t.ok((await w.run(w.admins[1]!, approve)).ok);
  t.notOk(await readRecord(w.h.state, Keys.org('org-e'), Codec.org), 'not yet: 2 of 4');
  t.ok((await w.run(w.admins[2]!, approve)).ok);
  t.ok(await readRecord(w.h.state, Keys.org('org-e'), Codec.org), 'executed at 3 of 4');
  t.same(await readRecord(w.h.state, Keys.orgList(), Codec.strings), [
    'org-a',
    'org-b',
    'org-c',
    'org-d',
    'org-e',
  ]);
  t.equal((await w.run(w.admins[3]!, approve)).code, 'PROPOSAL_EXECUTED');
  t.ok(
    (await w.run(newAdmin, { type: 10, publicKey: w.actor().key, licenceId: 'E-1' })).ok,
    'new admin acts',
  );
  t.equal((await w.run(w.admins[0]!, propose)).code, 'ORG_EXISTS');
  const reuse: TxBody = {
    type: 1,
    proposal: { action: 1, orgId: 'org-f', name: 'F', admins: [w.admins[1]!.key] },
  };
  t.equal((await w.run(w.admins[0]!, reuse)).code, 'KEY_IN_USE');
  t.ok(w.h.events.some((e) => e.event.kind === 'organisationRegistered'));

  // With five organisations the quorum is 4; a proposal expires after governanceTtlMs (7 days).
  const k = w.actor();
  const p2 = await w.ok(w.admins[0]!, {
    type: 1,
    proposal: { action: 1, orgId: 'org-g', name: 'G', admins: [k.key] },
  });
  await w.ok(w.admins[1]!, { type: 2, proposalId: p2.txId });
  t.equal((await w.run(w.admins[2]!, { type: 2, proposalId: p2.txId }, 8 * DAY)).code, 'PROPOSAL_EXPIRED');
  // A suspended admin cannot vote.
  const p3 = await w.ok(w.admins[1]!, { type: 1, proposal: { action: 4, name: 'maxGrantMs', value: DAY } });
  await w.ok(w.admins[0]!, { type: 12, publicKey: w.coAdmin.key, reasonCode: 'x' });
  t.equal((await w.run(w.coAdmin, { type: 2, proposalId: p3.txId })).code, 'SENDER_SUSPENDED');
});

t.test('validator changes apply at a future checkpoint and are emitted for consensus', async (t) => {
  const w = new World();
  const v = w.actor();
  const add: TxBody = { type: 1, proposal: { action: 2, publicKey: v.key, orgId: 'org-b' } };
  t.equal(
    (await w.run(w.admins[0]!, { type: 1, proposal: { action: 2, publicKey: v.key, orgId: 'nowhere' } }))
      .code,
    'UNKNOWN_ORG',
  );
  t.equal(
    (
      await w.run(w.admins[0]!, {
        type: 1,
        proposal: { action: 2, publicKey: w.validators[0]!.key, orgId: 'org-a' },
      })
    ).code,
    'VALIDATOR_EXISTS',
  );
  const p = await w.ok(w.admins[0]!, add);
  await w.ok(w.admins[1]!, { type: 2, proposalId: p.txId });
  await w.ok(w.admins[2]!, { type: 2, proposalId: p.txId });
  const ev = w.h.events.find((e) => e.event.kind === 'validatorSetChange')!;
  t.ok(ev, 'validatorSetChange emitted');
  const [at, set] = ev.event.data as [number, [Uint8Array, string][]];
  t.equal(at, validatorChangeHeight(ev.height, 100));
  t.ok(at > ev.height);
  t.equal(set.length, 5);
  t.same(set[4]![0], v.key);
  const vs = (await readRecord(w.h.state, Keys.validators(), Codec.validators))!;
  t.equal(vs[4]!.fromHeight, at);
  // The new validator may not record reads until it is active.
  const recordRead: TxBody = {
    type: 52,
    reader: w.stranger.key,
    patient: w.patient.key,
    categories: ['alerts'],
    purpose: 1,
    readAt: w.now,
  };
  await w.ok(w.patient, { type: 20, patient: w.patient.key });
  t.equal((await w.run(v, recordRead)).code, 'NOT_VALIDATOR');

  const remove: TxBody = { type: 1, proposal: { action: 3, publicKey: w.validators[3]!.key } };
  t.equal(
    (await w.run(w.admins[0]!, { type: 1, proposal: { action: 3, publicKey: w.stranger.key } })).code,
    'UNKNOWN_VALIDATOR',
  );
  const r = await w.ok(w.admins[0]!, remove);
  await w.ok(w.admins[1]!, { type: 2, proposalId: r.txId });
  await w.ok(w.admins[3]!, { type: 2, proposalId: r.txId });
  const ev2 = w.h.events.filter((e) => e.event.kind === 'validatorSetChange')[1]!;
  t.equal((ev2.event.data as [number, unknown[]])[1].length, 4, 'removed from the next set');
  t.ok((await w.run(w.validators[3]!, recordRead)).ok, 'still votes until the checkpoint');
});

t.test('setParameter changes a bounded parameter', async (t) => {
  const w = new World();
  t.equal(
    (await w.run(w.admins[0]!, { type: 1, proposal: { action: 4, name: 'nonsense', value: 1 } })).code,
    'UNKNOWN_PARAMETER',
  );
  t.equal(
    (await w.run(w.admins[0]!, { type: 1, proposal: { action: 4, name: 'maxEmergencyMs', value: 2 * DAY } }))
      .code,
    'PARAMETER_OUT_OF_RANGE',
    'break-glass can never exceed 24 h',
  );
  const p = await w.ok(w.admins[0]!, {
    type: 1,
    proposal: { action: 4, name: 'maxEmergencyMs', value: 3_600_000 },
  });
  await w.ok(w.admins[1]!, { type: 2, proposalId: p.txId });
  await w.ok(w.admins[2]!, { type: 2, proposalId: p.txId });
  t.equal((await readRecord(w.h.state, Keys.params(), Codec.params))?.maxEmergencyMs, 3_600_000);
});

t.test('proposals that could never execute are refused up front', async (t) => {
  const w = new World();
  const k = w.actor().key;
  t.equal(
    (
      await w.run(w.admins[0]!, {
        type: 1,
        proposal: { action: 1, orgId: 'org-x', name: 'X', admins: [k, k] },
      })
    ).code,
    'PROPOSAL_INVALID',
    'the same admin key twice',
  );
  // A single-validator chain cannot remove its last validator.
  const solo = new World();
  const h = new Harness(
    { ...solo.h.genesis, validators: [{ publicKey: solo.validators[0]!.key, orgId: 'org-a' }] },
    { verifier: null },
  );
  const [r] = await h.applyBlock(
    [solo.admins[0]!.tx({ type: 1, proposal: { action: 3, publicKey: solo.validators[0]!.key } }, T0)],
    T0 + 1,
  );
  t.equal(r!.code, 'TOO_FEW_VALIDATORS');
});

t.test(
  'block A still belongs to the old set: recordAccess follows the epoch that certifies it',
  async (t) => {
    // ADR 0015: a change effective at A (validatorSetChange [A, ...]) certifies heights from A + 1; block A
    // and the checkpoint at A are the old set's. The executor hands handlers the block's own height.
    const w = new World();
    await w.ok(w.patient, { type: 20, patient: w.patient.key });
    const added = w.actor();
    const removed = w.validators[3]!;
    for (const proposal of [
      { action: 2 as const, publicKey: added.key, orgId: 'org-b' },
      { action: 3 as const, publicKey: removed.key },
    ]) {
      const p = await w.ok(w.admins[0]!, { type: 1, proposal });
      await w.ok(w.admins[1]!, { type: 2, proposalId: p.txId });
      await w.ok(w.admins[2]!, { type: 2, proposalId: p.txId });
    }
    const changes = w.h.events.filter((e) => e.event.kind === 'validatorSetChange');
    const A = (changes[0]!.event.data as [number])[0];
    t.equal((changes[1]!.event.data as [number])[0], A, 'both changes take effect at the same A');
    const recordRead = (): TxBody => ({
      type: 52,
      reader: w.stranger.key,
      patient: w.patient.key,
      categories: ['alerts'],
      purpose: 1,
      readAt: w.now,
    });
    // Empty blocks up to A - 1, then one block at A (the added and the removed validator each send).
    while (w.h.height < A - 1) await w.h.applyBlock([], w.now);
    w.now += 1000;
    const atA = await w.h.applyBlock([added.tx(recordRead(), w.now), removed.tx(recordRead(), w.now)], w.now);
    t.equal(w.h.height, A);
    t.equal(atA[0]!.code, 'NOT_VALIDATOR', 'the added validator does not certify block A');
    t.ok(atA[1]!.ok, 'the removed validator still does');
    w.now += 1000;
    const after = await w.h.applyBlock(
      [added.tx(recordRead(), w.now), removed.tx(recordRead(), w.now)],
      w.now,
    );
    t.equal(w.h.height, A + 1);
    t.ok(after[0]!.ok, 'from A + 1 the added validator records reads');
    t.equal(after[1]!.code, 'NOT_VALIDATOR', 'and the removed one no longer does');
    // The event names the set that certifies A + 1 on: the same set recordAccess checks there.
    const set = (changes[1]!.event.data as [number, [Uint8Array, string][]])[1].map((v) => v[0]);
    t.ok(set.some((k) => Buffer.from(k).equals(added.key)));
    t.notOk(set.some((k) => Buffer.from(k).equals(removed.key)));
  },
);
