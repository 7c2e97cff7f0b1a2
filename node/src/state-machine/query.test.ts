import { toHex } from '@vigil/consensus/wire';
import t, { type Test } from 'tap';
import {
  AccessDenied,
  QueryError,
  readAlerts,
  readAuditTrail,
  readConsents,
  readReadings,
  recordAccessBody,
} from './query.ts';
import { DAY, HOUR, World } from './testing/world.ts';

async function withReadings(n = 5) {
  const w = await new World().populated();
  const first = w.now + 1000;
  for (let i = 0; i < n; i++) {
    await w.ok(w.device, {
      type: 50,
      patient: w.patient.key,
      readings: [w.reading(1, 70 + i, w.now + 1000)],
    });
  }
  return { w, first };
}

async function denied(t: Test, p: Promise<unknown>, code: string) {
  try {
    await p;
    t.fail(`expected AccessDenied ${code}`);
  } catch (e) {
    t.ok(e instanceof AccessDenied, (e as Error).message);
    t.equal((e as AccessDenied).code, code);
  }
}

t.test('readReadings returns what a grant covers, paginated, and refuses with a reason', async (t) => {
  const { w, first } = await withReadings(5);
  const P = w.patient.key;
  const q = { patient: P, kind: 1, from: 0, to: w.now + DAY, limit: 2 };
  const clin = { key: w.clinician.key, purpose: 1 };
  await denied(t, readReadings(w.h.view(), clin, q, w.now), 'NO_GRANT');
  const self = await readReadings(w.h.view(), { key: P, purpose: 1 }, { ...q, limit: 10 }, w.now);
  t.equal(self.items.length, 5, 'the patient sees their own data');
  t.equal(self.access.via, 'self');
  t.ok((await readReadings(w.h.view(), { key: w.guardian.key, purpose: 1 }, q, w.now)).items.length);

  await w.grantClinician(['vitals.heartRate']);
  const p1 = await readReadings(w.h.view(), clin, q, w.now);
  t.same(
    p1.items.map((r) => r.value),
    [70, 71],
  );
  t.equal(p1.items[0]!.measuredAt, first);
  t.ok(p1.items[0]!.committedAt! >= p1.items[0]!.measuredAt, 'both measurement and commit time');
  t.same(p1.items[0]!.source, w.device.key);
  t.equal(p1.access.via, 'grant');
  const p2 = await readReadings(w.h.view(), clin, { ...q, cursor: p1.next }, w.now);
  t.same(
    p2.items.map((r) => r.value),
    [72, 73],
  );
  const p3 = await readReadings(w.h.view(), clin, { ...q, cursor: p2.next }, w.now);
  t.same(
    p3.items.map((r) => r.value),
    [74],
  );
  t.equal(p3.next, null);
  const ranged = await readReadings(w.h.view(), clin, { ...q, from: first + 1000, to: first + 3000 }, w.now);
  t.same(
    ranged.items.map((r) => r.value),
    [71, 72],
    'time range [from, to)',
  );

  await denied(t, readReadings(w.h.view(), clin, { ...q, kind: 2 }, w.now), 'SCOPE_NOT_GRANTED');
  await denied(
    t,
    readReadings(w.h.view(), { key: w.clinician.key, purpose: 2 }, q, w.now),
    'NO_RESEARCH_CONSENT',
  );
  await w.ok(w.patient, { type: 44, patient: P, optIn: true });
  await denied(
    t,
    readReadings(w.h.view(), { key: w.clinician.key, purpose: 2 }, q, w.now),
    'PURPOSE_NOT_GRANTED',
  );
  await denied(
    t,
    readReadings(w.h.view(), { key: w.clinician.key, purpose: 3 }, q, w.now),
    'NO_EMERGENCY_ACCESS',
  );
  await denied(t, readReadings(w.h.view(), clin, q, w.now + 2 * DAY), 'GRANT_EXPIRED');
  await denied(
    t,
    readReadings(w.h.view(), { key: w.stranger.key, purpose: 1 }, q, w.now),
    'UNKNOWN_REQUESTER',
  );
  await denied(
    t,
    readReadings(w.h.view(), { key: w.admins[0]!.key, purpose: 1 }, q, w.now),
    'UNKNOWN_REQUESTER',
  );
  await denied(
    t,
    readReadings(w.h.view(), clin, { ...q, patient: w.stranger.key }, w.now),
    'UNKNOWN_PATIENT',
  );
  await w.ok(w.admins[0]!, { type: 12, publicKey: w.clinician.key, reasonCode: 'x' });
  await denied(t, readReadings(w.h.view(), clin, q, w.now), 'REQUESTER_SUSPENDED');
});

t.test('cursors cannot widen a read; bad inputs are typed QueryErrors', async (t) => {
  const { w } = await withReadings(3);
  const P = w.patient.key;
  const self = { key: P, purpose: 1 };
  const q = { patient: P, kind: 1, from: 0, to: w.now + DAY, limit: 1 };
  const other = await readReadings(w.h.view(), self, { ...q, kind: 2 }, w.now);
  t.equal(other.items.length, 0);
  const p1 = await readReadings(w.h.view(), self, q, w.now);
  const bad = async (over: object, code: string) => {
    try {
      await readReadings(w.h.view(), self, { ...q, ...over }, w.now);
      t.fail(`expected ${code}`);
    } catch (e) {
      t.ok(e instanceof QueryError);
      t.equal((e as QueryError).code, code);
    }
  };
  await bad({ kind: 2, cursor: p1.next }, 'BAD_CURSOR');
  await bad({ cursor: 'zz' }, 'BAD_CURSOR');
  await bad({ cursor: '00' }, 'BAD_CURSOR');
  await bad({ kind: 42 }, 'BAD_KIND');
  await bad({ from: 10, to: 5 }, 'BAD_RANGE');
  await bad({ limit: 0 }, 'BAD_LIMIT');
  await bad({ limit: 100_000 }, 'BAD_LIMIT');
});

t.test('organisation grants cover its clinicians; research reads are de-identified', async (t) => {
  const { w } = await withReadings(2);
  const P = w.patient.key;
  const q = { patient: P, kind: 1, from: 0, to: w.now + DAY };
  await w.ok(w.patient, {
    type: 40,
    patient: P,
    grantee: { kind: 2, orgId: 'org-b' },
    scopes: ['vitals.*'],
    purpose: 1,
    expiresAt: w.now + DAY,
  });
  t.equal(
    (await readReadings(w.h.view(), { key: w.otherClinician.key, purpose: 1 }, q, w.now)).items.length,
    2,
  );
  await denied(t, readReadings(w.h.view(), { key: w.clinician.key, purpose: 1 }, q, w.now), 'NO_GRANT');
  await w.ok(w.patient, { type: 44, patient: P, optIn: true });
  await w.grantClinician(['vitals.heartRate'], 2, w.researcher);
  const r = await readReadings(w.h.view(), { key: w.researcher.key, purpose: 2 }, q, w.now);
  t.equal(r.items.length, 2);
  t.equal(r.items[0]!.source, undefined, 'no device key');
  t.equal(r.items[0]!.txId, undefined);
  // The block routes are public: a height or a commit time names the block, whose transactions name
  // their signer.
  t.equal(r.items[0]!.height, undefined, 'no block height');
  t.equal(r.items[0]!.committedAt, undefined, 'no commit time');
  await denied(
    t,
    readReadings(w.h.view(), { key: w.researcher.key, purpose: 1 }, q, w.now),
    'PURPOSE_NOT_GRANTED',
  );
});

t.test('break-glass reads: everything while open, nothing after', async (t) => {
  const { w } = await withReadings(2);
  const P = w.patient.key;
  const em = { key: w.clinician.key, purpose: 3 };
  await w.ok(w.clinician, {
    type: 42,
    patient: P,
    reasonCode: 'BTG',
    reason: 'collapsed in A&E',
    durationMs: HOUR,
  });
  const r = await readReadings(w.h.view(), em, { patient: P, kind: 1, from: 0, to: w.now + DAY }, w.now);
  t.equal(r.items.length, 2);
  t.equal(r.access.via, 'emergency');
  t.ok((await readAlerts(w.h.view(), em, { patient: P }, w.now)).items);
  await denied(t, readAlerts(w.h.view(), em, { patient: P }, w.now + HOUR), 'NO_EMERGENCY_ACCESS');
  await denied(
    t,
    readAlerts(w.h.view(), { key: w.clinician.key, purpose: 1 }, { patient: P }, w.now),
    'NO_GRANT',
  );
});

t.test('consents and the audit trail are for the patient and guardians only', async (t) => {
  const { w } = await withReadings(1);
  const P = w.patient.key;
  const grantId = await w.grantClinician(['alerts']);
  const c = await readConsents(w.h.view(), { key: w.guardian.key, purpose: 1 }, P, w.now);
  t.equal(c.grants.length, 1);
  t.same(c.grants[0]!.grantId, grantId);
  t.equal(c.guardians.length, 1);
  t.equal(
    (await readConsents(w.h.view(), { key: P, purpose: 1 }, P, w.now + 2 * DAY)).grants.length,
    0,
    'expired: gone',
  );
  await denied(t, readConsents(w.h.view(), { key: w.clinician.key, purpose: 1 }, P, w.now), 'PATIENT_ONLY');
  await denied(t, readConsents(w.h.view(), { key: P, purpose: 1 }, w.stranger.key, w.now), 'UNKNOWN_PATIENT');
  await denied(
    t,
    readAuditTrail(w.h.view(), { key: w.clinician.key, purpose: 1 }, { patient: P }),
    'PATIENT_ONLY',
  );
  for (let i = 0; i < 3; i++) {
    await w.ok(w.validators[0]!, {
      type: 52,
      reader: w.clinician.key,
      patient: P,
      categories: ['alerts'],
      purpose: 1,
      readAt: w.now,
    });
  }
  const all = await readAuditTrail(w.h.view(), { key: P, purpose: 1 }, { patient: P });
  t.same(
    all.items.map((i) => i.event),
    ['guardianAppointed', 'deviceBound', 'grant', 'read', 'read', 'read'],
  );
  const page = await readAuditTrail(w.h.view(), { key: P, purpose: 1 }, { patient: P, limit: 2 });
  t.equal(page.items.length, 2);
  const rest = await readAuditTrail(
    w.h.view(),
    { key: P, purpose: 1 },
    { patient: P, fromHeight: page.nextHeight! },
  );
  t.same(
    [...page.items, ...rest.items].map((i) => i.height),
    all.items.map((i) => i.height),
    'pages resume without loss',
  );
  // A height the key writer cannot encode (unsafe, negative, fractional) is a typed QueryError, not the
  // RangeError of writeU64be that reached HTTP clients as 500 INTERNAL.
  for (const fromHeight of [2 ** 53, -1, 1.5, Number.NaN]) {
    try {
      await readAuditTrail(w.h.view(), { key: P, purpose: 1 }, { patient: P, fromHeight });
      t.fail(`expected BAD_RANGE for ${fromHeight}`);
    } catch (e) {
      t.ok(e instanceof QueryError, `${fromHeight}: ${(e as Error).name}`);
      t.equal((e as QueryError).code, 'BAD_RANGE');
    }
  }
  t.equal(
    (
      await readAuditTrail(
        w.h.view(),
        { key: P, purpose: 1 },
        { patient: P, fromHeight: Number.MAX_SAFE_INTEGER },
      )
    ).items.length,
    0,
    'the largest safe height is a valid, empty page',
  );
});

t.test('a served read becomes an audit entry through recordAccessBody', async (t) => {
  const { w } = await withReadings(1);
  const P = w.patient.key;
  await w.grantClinician(['vitals.heartRate']);
  const req = { key: w.clinician.key, purpose: 1 };
  const res = await readReadings(w.h.view(), req, { patient: P, kind: 1, from: 0, to: w.now + DAY }, w.now);
  t.equal(res.items.length, 1);
  const body = recordAccessBody(req, P, ['vitals.heartRate', 'vitals.heartRate'], w.now);
  t.ok((await w.run(w.validators[1]!, body)).ok);
  const trail = await readAuditTrail(w.h.view(), { key: P, purpose: 1 }, { patient: P });
  const last = trail.items[trail.items.length - 1]!;
  t.equal(last.event, 'read');
  t.same(last.actor, w.clinician.key);
  t.same(last.categories, ['vitals.heartRate']);
});

t.test(
  'research cursors name no key, page exactly once through equal times, and refuse bad input',
  async (t) => {
    const w = await new World().populated();
    const P = w.patient.key;
    // Two devices and a clinician record heart rates; several share a measurement time.
    const d2 = await w.bindSecondDevice();
    await w.grantClinician(['vitals.*']);
    const t0 = w.now + 1000;
    const times = [t0, t0, t0, t0 + 5, t0 + 5, t0 + 9];
    let value = 40;
    const values = new Map<number, number>();
    for (const [i, at] of times.entries()) {
      const who = [w.device, d2, w.clinician][i % 3]!;
      const body =
        who === w.clinician
          ? { type: 51 as const, patient: P, readings: [w.reading(1, value, at)] }
          : { type: 50 as const, patient: P, readings: [w.reading(1, value, at)] };
      await w.ok(who, body, 0);
      values.set(value++, at);
    }
    await w.ok(w.patient, { type: 44, patient: P, optIn: true });
    await w.grantClinician(['vitals.heartRate'], 2, w.researcher);
    const research = { key: w.researcher.key, purpose: 2 };
    const q = { patient: P, kind: 1, from: 0, to: w.now + DAY };
    const sources = [w.device.key, d2.key, w.clinician.key].map(toHex);

    for (const limit of [1, 2, 3, 4, 5, 6]) {
      const seen: number[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 20; pages++) {
        const page = await readReadings(w.h.view(), research, { ...q, limit, cursor }, w.now);
        for (const r of page.items) {
          t.equal(r.source, undefined);
          t.equal(r.height, undefined);
          seen.push(r.value);
        }
        cursor = page.next;
        if (cursor === null) break;
        t.match(cursor, /^[0-9]+\.[0-9]+$/, 'time and count only');
        for (const s of sources) t.notOk(cursor.includes(s), 'no signer key in the cursor');
        t.notOk(cursor.length >= 64, 'nothing key-sized');
      }
      t.same(
        [...seen].sort((a, b) => a - b),
        [...values.keys()],
        `limit ${limit}: every reading exactly once`,
      );
      t.same(
        seen.map((v) => values.get(v)),
        [...times],
        'oldest first',
      );
    }

    const first = await readReadings(w.h.view(), research, { ...q, limit: 1 }, w.now);
    t.equal(first.next, `${t0}.1`, 'the next entry is the second at t0');
    const bad = async (over: object, why: string) => {
      try {
        await readReadings(w.h.view(), research, { ...q, ...over }, w.now);
        t.fail(`expected BAD_CURSOR: ${why}`);
      } catch (e) {
        t.ok(e instanceof QueryError, why);
        t.equal((e as QueryError).code, 'BAD_CURSOR', why);
      }
    };
    const clinicianPage = await readReadings(
      w.h.view(),
      { key: w.clinician.key, purpose: 1 },
      { ...q, limit: 1 },
      w.now,
    );
    await bad({ cursor: clinicianPage.next }, 'a key cursor');
    for (const c of [
      'x',
      `${t0}`,
      `${t0}.`,
      `.1`,
      `${t0}.1.1`,
      `0${t0}.1`,
      `${t0}.01`,
      `-${t0}.1`,
      `${t0}.-1`,
      `+${t0}.1`,
      `${t0}.1 `,
      `${t0}e0.1`,
      `${t0}.1e3`,
      '9007199254740992.0',
      `${t0}.9007199254740992`,
      '99999999999999999.0',
    ]) {
      await bad({ cursor: c }, `malformed ${JSON.stringify(c)}`);
    }
    await bad({ from: t0 + 1, cursor: `${t0}.0` }, 'before the range');
    await bad({ to: t0 + 5, cursor: `${t0 + 5}.0` }, 'at the end of the range');
    // A research cursor is no key cursor either.
    try {
      await readReadings(
        w.h.view(),
        { key: w.clinician.key, purpose: 1 },
        { ...q, cursor: first.next },
        w.now,
      );
      t.fail('expected BAD_CURSOR');
    } catch (e) {
      t.equal((e as QueryError).code, 'BAD_CURSOR');
    }
    // A count beyond the readings at that time passes over them only: the read stays in [t, to).
    const over = await readReadings(w.h.view(), research, { ...q, cursor: `${t0}.1000` }, w.now);
    t.same(
      over.items.map((r) => r.measuredAt),
      [t0 + 5, t0 + 5, t0 + 9],
    );
  },
);

t.test(
  'research ordinals tell readings at one instant apart, the same on every page, and pair by signer',
  async (t) => {
    const w = await new World().populated();
    const P = w.patient.key;
    const d2 = await w.bindSecondDevice();
    await w.grantClinician(['vitals.*']);
    const signers = [w.device, d2, w.clinician];
    const send = (who: (typeof signers)[number], readings: ReturnType<World['reading']>[]) =>
      w.ok(
        who,
        { type: who === w.clinician ? 51 : 50, patient: P, readings } as Parameters<World['ok']>[1],
        0,
      );
    // Heart rates: all three signers at t0 (value = 60 + the signer's index), one at t0 + 5.
    const t0 = w.now + 1000;
    for (const [i, who] of signers.entries()) await send(who, [w.reading(1, 60 + i, t0)]);
    await send(w.device, [w.reading(1, 90, t0 + 5)]);
    // Blood pressure at t1: the first device both halves, the second a diastolic only, the clinician a
    // systolic only. Values name the signer: systolic 100 + i, diastolic 50 + i.
    const t1 = t0 + 100;
    await send(w.device, [w.reading(3, 100, t1), w.reading(4, 50, t1)]);
    await send(d2, [w.reading(4, 51, t1)]);
    await send(w.clinician, [w.reading(3, 102, t1)]);
    // The rank of each signer in key order, over all three and over each kind's own.
    const rankIn = (who: number, among: number[]) =>
      among
        .map((i) => toHex(signers[i]!.key))
        .sort()
        .indexOf(toHex(signers[who]!.key));

    await w.ok(w.patient, { type: 44, patient: P, optIn: true });
    await w.grantClinician(['vitals.heartRate', 'vitals.systolicBp'], 2, w.researcher);
    const research = { key: w.researcher.key, purpose: 2 };
    const q = { patient: P, kind: 1, from: 0, to: w.now + DAY };
    const expected = [
      ...[0, 1, 2].map((i) => `${t0} ${60 + i} ${rankIn(i, [0, 1, 2])}`),
      `${t0 + 5} 90 0`,
    ].sort();
    for (const limit of [1, 2, 3, 4]) {
      const got: string[] = [];
      let cursor: string | null = null;
      do {
        const page: Awaited<ReturnType<typeof readReadings>> = await readReadings(
          w.h.view(),
          research,
          { ...q, limit, cursor },
          w.now,
        );
        for (const r of page.items) got.push(`${r.measuredAt} ${r.value} ${r.ordinal}`);
        cursor = page.next;
      } while (cursor !== null);
      t.same(got.sort(), expected, `limit ${limit}: each reading its signer's rank at its instant`);
    }

    // Without the diastolic category, a systolic ranks among systolic signers only, whatever is asked.
    const bp = { ...q, kind: 3, from: t1, to: t1 + 1 };
    const sysOnly = await readReadings(w.h.view(), research, { ...bp, pairedKind: 4 }, w.now);
    t.equal(sysOnly.pairedWith, undefined, 'no pairing without access to the other kind');
    t.same(
      sysOnly.items.map((r) => `${r.value} ${r.ordinal}`).sort(),
      [`100 ${rankIn(0, [0, 2])}`, `102 ${rankIn(2, [0, 2])}`].sort(),
    );

    await w.grantClinician(['vitals.diastolicBp'], 2, w.researcher);
    const sys = await readReadings(w.h.view(), research, { ...bp, pairedKind: 4 }, w.now);
    const dia = await readReadings(w.h.view(), research, { ...bp, kind: 4, pairedKind: 3 }, w.now);
    t.same([sys.pairedWith, dia.pairedWith], [4, 3]);
    const all = [0, 1, 2];
    t.same(
      sys.items.map((r) => `${r.value} ${r.ordinal}`).sort(),
      [`100 ${rankIn(0, all)}`, `102 ${rankIn(2, all)}`].sort(),
      'systolic ordinals rank over the signers of both kinds',
    );
    t.same(
      dia.items.map((r) => `${r.value} ${r.ordinal}`).sort(),
      [`50 ${rankIn(0, all)}`, `51 ${rankIn(1, all)}`].sort(),
      'so the halves of one signer share an ordinal, and no other two do',
    );
    // Paged one at a time, the same ordinals.
    const first = await readReadings(w.h.view(), research, { ...bp, pairedKind: 4, limit: 1 }, w.now);
    const second = await readReadings(
      w.h.view(),
      research,
      { ...bp, pairedKind: 4, limit: 1, cursor: first.next },
      w.now,
    );
    t.same([...first.items, ...second.items], sys.items);

    // Treatment reads carry the signer itself: no ordinal, no pairing.
    const clin = await readReadings(
      w.h.view(),
      { key: w.clinician.key, purpose: 1 },
      { ...bp, pairedKind: 4 },
      w.now,
    );
    t.equal(clin.pairedWith, undefined);
    t.ok(clin.items.every((r) => r.ordinal === undefined && r.source !== undefined));
    try {
      await readReadings(w.h.view(), research, { ...bp, pairedKind: 3 }, w.now);
      t.fail('expected BAD_KIND');
    } catch (e) {
      t.equal((e as QueryError).code, 'BAD_KIND', 'a kind is not paired with itself');
    }
  },
);
