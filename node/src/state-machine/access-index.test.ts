// The indexes of ADR 0130 on the harness: the access index follows every grant, revoke, break-glass
// access and guardianship in the transaction that changes them (and nothing of a rejected one), and
// "grants to me" (readAccessToMe) lists what gives the caller access now, decided on the state, with
// hostile cursors and limits refused; the alert index holds every alert raised, by height and position.
import t from 'tap';
import { toHex } from '@vigil/consensus/wire';
import type { TxBody } from '@vigil/consensus/wire/bodies/index.ts';
import { emergencyEntry, grantEntry, guardianEntry } from './access-index.ts';
import { IndexKeys, Keys, makeKey, prefixEnd } from './keys.ts';
import { readAccessToMe, readRaisedAlerts, replayStart } from './query.ts';
import { Codec, readRecord } from './records.ts';
import type { TestActor } from './testing/harness.ts';
import { DAY, HOUR, World } from './testing/world.ts';

/** The access index's keys, hex, sorted. */
async function accessKeys(w: World): Promise<string[]> {
  const p = makeKey('access');
  const out: string[] = [];
  for await (const { key } of w.h.index.range({ gte: p, lt: prefixEnd(p) })) out.push(toHex(key));
  return out;
}

const grantTo = (
  w: World,
  patient: TestActor,
  over: Partial<Extract<TxBody, { type: 40 }>> = {},
): TxBody => ({
  type: 40,
  patient: patient.key,
  grantee: { kind: 1, key: w.clinician.key },
  scopes: ['vitals.*', 'alerts'],
  purpose: 1,
  expiresAt: w.now + DAY,
  ...over,
});

/** readAccessToMe for `who` at the world's time, as [patient hex, via, purpose | null]. */
async function toMe(w: World, who: TestActor, at = w.now) {
  const r = await readAccessToMe(w.h.view(), { key: who.key, purpose: 1 }, { limit: 1000 }, at);
  t.equal(r.next, null);
  return r.items.map((a) => [
    toHex(a.patient),
    a.via,
    a.via === 'grant' ? a.grant.purpose : a.via === 'emergency' ? 3 : null,
  ]);
}

t.test(
  'the access index follows grants, revokes, break-glass and guardians in their own block',
  async (t) => {
    const w = await new World().populated();
    const P = w.patient.key;
    const guardianKey = toHex(guardianEntry(P, w.guardian.key));
    t.same(await accessKeys(w), [guardianKey], 'the guardian appointed by populated()');

    const g1 = (await w.ok(w.patient, grantTo(w, w.patient))).txId;
    const grants = (await readRecord(w.h.state, Keys.grants(P), Codec.grants))!;
    t.same(await accessKeys(w), [toHex(grantEntry(P, grants[0]!)), guardianKey].sort(), 'a grant is entered');
    t.match(toHex(grantEntry(P, grants[0]!)), toHex(IndexKeys.accessOf(1, w.clinician.key)), 'under the key');

    // A rejected transaction writes nothing: a grant to a stranger (BAD_GRANTEE).
    const before = await accessKeys(w);
    t.equal(
      (await w.run(w.patient, grantTo(w, w.patient, { grantee: { kind: 1, key: w.stranger.key } }))).code,
      'BAD_GRANTEE',
    );
    t.same(await accessKeys(w), before, 'nothing of a rejected grant');

    await w.ok(
      w.patient,
      grantTo(w, w.patient, { grantee: { kind: 2, orgId: 'org-b' }, expiresAt: w.now + HOUR }),
    );
    const org = (await readRecord(w.h.state, Keys.grants(P), Codec.grants))![1]!;
    t.ok((await accessKeys(w)).includes(toHex(grantEntry(P, org))), 'an organisation grant, under the org');
    t.match(toHex(grantEntry(P, org)), toHex(IndexKeys.accessOf(2, 'org-b')));

    await w.ok(w.patient, { type: 41, patient: P, grantId: g1 });
    t.notOk((await accessKeys(w)).includes(toHex(grantEntry(P, grants[0]!))), 'a revoke removes it');

    // The organisation grant expires; the next grant prunes it from the record, and from the index.
    w.now += 2 * HOUR;
    t.ok((await accessKeys(w)).includes(toHex(grantEntry(P, org))), 'an expired entry stays until pruned');
    await w.ok(w.patient, grantTo(w, w.patient));
    const after = (await readRecord(w.h.state, Keys.grants(P), Codec.grants))!;
    t.equal(after.length, 1);
    t.same(await accessKeys(w), [toHex(grantEntry(P, after[0]!)), guardianKey].sort(), 'pruned with it');

    await w.ok(w.otherClinician, {
      type: 42,
      patient: P,
      reasonCode: 'ETREAT',
      reason: 'arrest',
      durationMs: HOUR,
    });
    const [e] = (await readRecord(w.h.state, Keys.emergencies(P), Codec.emergencies))!;
    t.ok((await accessKeys(w)).includes(toHex(emergencyEntry(P, e!))), 'break-glass is entered');
    await w.ok(w.patient, { type: 43, patient: P, accessId: e!.accessId });
    t.notOk((await accessKeys(w)).includes(toHex(emergencyEntry(P, e!))), 'and removed when closed');

    await w.ok(w.patient, { type: 22, patient: P, guardian: w.guardian.key });
    t.notOk((await accessKeys(w)).includes(guardianKey), 'a guardian removed');
    await w.ok(w.patient, { type: 21, patient: P, guardian: w.stranger.key });
    t.ok((await accessKeys(w)).includes(toHex(guardianEntry(P, w.stranger.key))), 'a guardian appointed');
  },
);

t.test('grants to me: what gives the caller access now, as the access rule counts it', async (t) => {
  const w = await new World().populated();
  const P = toHex(w.patient.key);
  const p2 = w.actor();
  const P2 = toHex(p2.key);
  await w.ok(p2, { type: 20, patient: p2.key });
  t.same(await toMe(w, w.clinician), [], 'nothing granted yet');
  t.same(await toMe(w, w.guardian), [[P, 'guardian', null]], 'a guardian, of the patient');

  const expiresAt = w.now + DAY;
  await w.ok(w.patient, grantTo(w, w.patient, { expiresAt }));
  await w.ok(p2, grantTo(w, p2, { grantee: { kind: 2, orgId: 'org-a' }, purpose: 3 }));
  t.same(
    (await toMe(w, w.clinician)).sort(),
    [
      [P, 'grant', 1],
      [P2, 'grant', 3],
    ].sort(),
    'a grant to the key and one to its organisation',
  );
  const r = await readAccessToMe(w.h.view(), { key: w.clinician.key, purpose: 1 }, {}, w.now);
  const direct = r.items.find((a) => a.via === 'grant' && a.grant.granteeKind === 1);
  t.match(direct, { via: 'grant', grant: { scopes: ['vitals.*', 'alerts'], purpose: 1, expiresAt } });
  t.same(await toMe(w, w.otherClinician), [], 'not to a clinician of another organisation');
  t.same(await toMe(w, w.admins[0]!), [], 'nor to the admin of that organisation (not a clinician)');

  // Break-glass by the other clinician, for an hour.
  await w.ok(w.otherClinician, {
    type: 42,
    patient: p2.key,
    reasonCode: 'ETREAT',
    reason: 'arrest',
    durationMs: HOUR,
  });
  t.same(await toMe(w, w.otherClinician), [[P2, 'emergency', 3]], 'an open break-glass access');
  t.same(await toMe(w, w.otherClinician, w.now + HOUR), [], 'not once it expired');

  // Research grants count only while the patient is opted in (decideAccess refuses research reads else).
  await w.ok(w.patient, grantTo(w, w.patient, { grantee: { kind: 1, key: w.researcher.key }, purpose: 2 }));
  t.same(await toMe(w, w.researcher), [], 'a research grant without the opt-in');
  await w.ok(w.patient, { type: 44, patient: w.patient.key, optIn: true });
  t.same(await toMe(w, w.researcher), [[P, 'grant', 2]], 'with it');

  // Expiry, revoke, suspension.
  t.same(
    (await toMe(w, w.clinician, w.now + DAY)).length,
    0,
    'a day later both grants expired (no revoke needed)',
  );
  const grantId = (await readRecord(w.h.state, Keys.grants(w.patient.key), Codec.grants))!.find(
    (g) => g.granteeKind === 1 && g.purpose === 1,
  )!.grantId;
  await w.ok(w.patient, { type: 41, patient: w.patient.key, grantId });
  t.same(await toMe(w, w.clinician), [[P2, 'grant', 3]], 'a revoked grant is gone');
  await w.ok(p2, { type: 21, patient: p2.key, guardian: w.clinician.key });
  await w.ok(w.admins[0]!, { type: 12, publicKey: w.clinician.key, reasonCode: 'x' });
  t.same(
    await toMe(w, w.clinician),
    [[P2, 'guardian', null]],
    'a suspended clinician keeps a guardianship only (grants give a suspended requester nothing)',
  );
});

t.test('grants to me: pages, and hostile cursors and limits', async (t) => {
  const w = await new World().populated();
  const patients: TestActor[] = [];
  for (let i = 0; i < 7; i++) {
    const p = w.actor();
    patients.push(p);
    await w.ok(p, { type: 20, patient: p.key });
    await w.ok(p, grantTo(w, p));
  }
  await w.ok(patients[0]!, { type: 21, patient: patients[0]!.key, guardian: w.clinician.key });
  const req = { key: w.clinician.key, purpose: 1 };
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = await readAccessToMe(w.h.view(), req, { limit: 3, cursor }, w.now);
    t.ok(page.items.length <= 3);
    seen.push(...page.items.map((a) => `${toHex(a.patient)}/${a.via}`));
    cursor = page.next;
    pages++;
  } while (cursor !== null && pages < 10);
  t.equal(pages, 3, 'eight entries in pages of three');
  t.equal(new Set(seen).size, 8, 'each once');
  t.same(seen.filter((s) => s.endsWith('/grant')).length, 7, 'every grant, then the guardianship');

  const bad = async (cursor: string, what: string) =>
    t.rejects(
      readAccessToMe(w.h.view(), req, { cursor }, w.now),
      { name: 'QueryError', code: 'BAD_CURSOR' },
      what,
    );
  await bad('zz', 'not hex');
  await bad('abc', 'odd length');
  await bad(toHex(IndexKeys.raisedFrom(1)), 'a key of another index');
  // Someone else's position: a cursor the other clinician would get for their own grants.
  await w.ok(patients[1]!, grantTo(w, patients[1]!, { grantee: { kind: 1, key: w.otherClinician.key } }));
  const theirs = await readAccessToMe(
    w.h.view(),
    { key: w.otherClinician.key, purpose: 1 },
    { limit: 1 },
    w.now,
  );
  t.equal(theirs.items.length, 1);
  const theirKey = toHex(
    grantEntry(
      patients[1]!.key,
      (await readRecord(w.h.state, Keys.grants(patients[1]!.key), Codec.grants))!.at(-1)!,
    ),
  );
  await bad(theirKey, "another clinician's entry");
  await bad(toHex(IndexKeys.accessOf(2, 'org-b')), "another organisation's entries");
  // An organisation range is the caller's only while they are an active clinician of it.
  const mine = toHex(IndexKeys.accessOf(2, 'org-a'));
  t.ok(await readAccessToMe(w.h.view(), req, { cursor: mine }, w.now), 'its own organisation');
  for (const limit of [0, 1001, 1.5, -1]) {
    await t.rejects(
      readAccessToMe(w.h.view(), req, { limit }, w.now),
      { code: 'BAD_LIMIT' },
      `limit ${limit}`,
    );
  }
});

t.test('the alert index holds every alert raised, by height, position and sequence', async (t) => {
  const w = await new World().populated();
  const P = w.patient.key;
  const start = w.h.height + 1;
  // Two transactions in one block: the second raises a threshold alert (heart rate) and NEWS2 may too.
  w.now += 1000;
  await w.h.applyBlock(
    [
      w.device.tx({ type: 50, patient: P, readings: [w.reading(1, 80, w.now - 10)] }, w.now),
      w.device.tx({ type: 50, patient: P, readings: [w.reading(6, 30, w.now - 5)] }, w.now),
    ],
    w.now,
  );
  // A rejected one (not increasing) raises nothing.
  await w.run(w.device, { type: 50, patient: P, readings: [w.reading(6, 40, w.now - 50_000)] });
  await w.ok(w.device, { type: 50, patient: P, readings: [w.reading(1, 150, w.now)] });
  const events = w.h.events.filter((e) => e.event.kind === 'alertRaised');
  t.ok(events.length >= 2, `${events.length} alerts raised`);
  const page = await readRaisedAlerts(w.h.view(), { fromHeight: start, toHeight: w.h.height, limit: 100 });
  t.equal(page.next, null);
  t.same(
    page.items.map((a) => [a.height, a.seq, a.cause]),
    events.map((e) => {
      const d = e.event.data as unknown[];
      return [e.height, d[1], d[2]];
    }),
    'each alert event, in the order raised',
  );
  t.match(page.items[0], {
    height: start,
    position: 1,
    patient: P,
    cause: 'threshold.high.respiratoryRate',
    kind: 6,
    value: 30,
  });
  t.equal(toHex(page.items[0]!.txId).length, 64);
  // Paged.
  const first = await readRaisedAlerts(w.h.view(), { fromHeight: start, toHeight: w.h.height, limit: 1 });
  t.equal(first.items.length, 1);
  const rest = await readRaisedAlerts(w.h.view(), {
    fromHeight: start,
    toHeight: w.h.height,
    limit: 100,
    cursor: first.next,
  });
  t.same([...first.items, ...rest.items], page.items, 'pages join up');
  // Bounded replays start on a block boundary: the block of the newest alert left out is left out whole.
  const last = page.items.at(-1)!.height;
  for (let max = 0; max <= page.items.length; max++) {
    const n = page.items.length;
    const want = n <= max ? start : page.items[n - 1 - max]!.height + 1;
    t.equal(await replayStart(w.h.view(), start, w.h.height, max), want, `at most ${max}`);
  }
  t.ok(page.items.some((a) => a.height === start) && page.items.some((a) => a.height === last));
  t.same(
    (await readRaisedAlerts(w.h.view(), { fromHeight: last + 1, toHeight: w.h.height, limit: 10 })).items,
    [],
  );
});
