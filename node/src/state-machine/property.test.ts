// Random sequences of transactions from random actors (fast-check), checked against a reference model
// kept from the accepted transactions only:
//  - no read returns data outside an unexpired grant or open break-glass access (or to the patient or a
//    guardian);
//  - readings from a revoked, suspended or unbound device are rejected;
//  - replaying any transaction fails;
//  - every grant and break-glass access in state was created by someone entitled to create it;
//  - two harnesses fed the same blocks end byte-identical (state and index);
//  - "grants to me" (readAccessToMe) lists a patient exactly when the access rule lets the reader read
//    something of theirs for some purpose, and the access index is what the state implies (ADR 0130).
// Runs: VIGIL_PROP_RUNS (default 30 sequences of up to 40 blocks), seed VIGIL_PROP_SEED.

import fc from 'fast-check';
import t from 'tap';
import { bytesEqual, type Transaction, toHex } from '@vigil/consensus/wire';
import { scopesCover, type TxBody } from '@vigil/consensus/wire/bodies/index.ts';
import { readingCategory, type ReadingKind } from '@vigil/consensus/vitals/index.ts';
import { READING_KINDS } from '@vigil/consensus/vitals/index.ts';
import { decideAccess } from './access.ts';
import { derivedIndexRecords } from './access-index.ts';
import { Keys, makeKey, prefixEnd } from './keys.ts';
import { AccessDenied, readAccessToMe, readAlerts, readReadings } from './query.ts';
import { Codec, readRecord } from './records.ts';
import { Harness, type TestActor } from './testing/harness.ts';
import { DAY, HOUR, World } from './testing/world.ts';

const RUNS = Number(process.env.VIGIL_PROP_RUNS ?? 30);
/** Fixed by default so CI is reproducible; set VIGIL_PROP_SEED to explore. */
const SEED = Number(process.env.VIGIL_PROP_SEED ?? 20261122);

/** Aggregate coverage over all runs, so a vacuous run (everything rejected) fails the test. */
const seen = {
  acceptedTypes: new Set<number>(),
  orgsRegistered: 0,
  grantReads: 0,
  emergencyReads: 0,
  deniedReads: 0,
  badDeviceRejected: 0,
  replays: 0,
  listedToMe: 0,
  accessEntries: 0,
};

interface ModelGrant {
  id: string;
  patient: string;
  granteeKey?: string;
  granteeOrg?: string;
  scopes: string[];
  purpose: number;
  expiresAt: number;
  /** Checked to be the patient or a then-current guardian when the grant was accepted. */
  grantedBy: string;
}

const Op = fc.record({
  op: fc.integer({ min: 0, max: 27 }),
  a: fc.nat(50),
  b: fc.nat(50),
  c: fc.nat(50),
  d: fc.nat(50),
  dt: fc.integer({ min: 0, max: 4 * HOUR }),
});

const SCOPE_SETS = [['*'], ['vitals.*'], ['alerts'], ['vitals.heartRate'], ['vitals.spo2', 'alerts']];
const pick = <T>(xs: readonly T[], i: number): T => xs[i % xs.length]!;

type OpValue = typeof Op extends fc.Arbitrary<infer T> ? T : never;

async function runSequence(ops: OpValue[]) {
  const w = await new World({ verifier: null }).populated();
  const all = [
    w.patient,
    w.guardian,
    w.clinician,
    w.otherClinician,
    w.researcher,
    w.stranger,
    w.device,
    ...w.admins,
  ];
  const p2 = w.actor();
  const g2 = w.actor();
  const c3 = w.actor();
  const d2 = w.actor();
  await w.ok(p2, { type: 20, patient: p2.key });
  await w.ok(p2, { type: 21, patient: p2.key, guardian: g2.key });
  await w.ok(w.admins[0]!, { type: 10, publicKey: c3.key, licenceId: 'C3' });
  await w.ok(w.admins[0]!, {
    type: 30,
    device: d2.key,
    patient: p2.key,
    validFrom: w.now,
    validUntil: w.now + 30 * DAY,
  });
  const spare = [w.actor(), w.actor(), w.actor()];
  for (const a of [...all, p2, g2, c3, d2, ...spare]) a.signs = false;

  const applied: Transaction[] = [];

  // ---- reference model, from accepted transactions only ----
  const hex = (k: Uint8Array) => toHex(k);
  const patients = [w.patient, p2];
  const clinicians = [w.clinician, w.otherClinician, c3];
  const orgOf = new Map([
    [hex(w.clinician.key), 'org-a'],
    [hex(w.otherClinician.key), 'org-b'],
    [hex(c3.key), 'org-a'],
    [hex(w.researcher.key), 'org-a'],
  ]);
  const isClinician = (k: string) => clinicians.some((c) => hex(c.key) === k);
  const suspended = new Set<string>();
  const guardians = new Map<string, Set<string>>([
    [hex(w.patient.key), new Set([hex(w.guardian.key)])],
    [hex(p2.key), new Set([hex(g2.key)])],
  ]);
  const optIn = new Set<string>();
  const grants = new Map<string, ModelGrant>();
  const emergencies = new Map<string, { patient: string; clinician: string; expiresAt: number }>();
  const devices = new Map<string, { patient: string; status: 'active' | 'suspended' | 'revoked' }>([
    [hex(w.device.key), { patient: hex(w.patient.key), status: 'active' }],
    [hex(d2.key), { patient: hex(p2.key), status: 'active' }],
  ]);
  const deviceActors: TestActor[] = [w.device, d2, spare[0]!];
  const grantIds: Uint8Array[] = [];
  // Governance model: organisations, and which organisations approved each proposal.
  const adminOrg = new Map([
    ...w.admins.map((a, i) => [hex(a.key), `org-${'abcd'[i]}`] as const),
    [hex(w.coAdmin.key), 'org-a'],
  ]);
  const orgs = new Set(['org-a', 'org-b', 'org-c', 'org-d']);
  const proposals = new Map<
    string,
    { orgId: string; approvals: Set<string>; executed: boolean; expiresAt: number }
  >();
  const proposalIds: Uint8Array[] = [];
  const quorum = (n: number) => Math.floor((n + Math.floor((n - 1) / 3)) / 2) + 1;
  const approve = (id: string, org: string) => {
    const p = proposals.get(id)!;
    p.approvals.add(org);
    if (p.approvals.size >= quorum(orgs.size)) {
      p.executed = true;
      orgs.add(p.orgId);
    }
  };
  const emergencyIds: Uint8Array[] = [];

  const entitledToGrant = (sender: string, patient: string) =>
    sender === patient || (guardians.get(patient)?.has(sender) ?? false);

  const modelAllows = (reader: string, patient: string, category: string, purpose: number, now: number) => {
    if (entitledToGrant(reader, patient)) return true;
    if (!orgOf.has(reader) || suspended.has(reader)) return false;
    if (purpose === 3 && isClinician(reader)) {
      for (const e of emergencies.values()) {
        if (e.patient === patient && e.clinician === reader && e.expiresAt > now) return true;
      }
    }
    if (purpose === 2 && !optIn.has(patient)) return false;
    for (const g of grants.values()) {
      if (g.patient !== patient || g.expiresAt <= now || g.purpose !== purpose) continue;
      const names = g.granteeKey === reader || (isClinician(reader) && g.granteeOrg === orgOf.get(reader));
      if (names && scopesCover(g.scopes, category)) return true;
    }
    return false;
  };

  for (const o of ops) {
    w.now += o.dt + 1;
    const now = w.now;
    let patient = pick(patients, o.b);
    let P = hex(patient.key);
    const guardianOf = (p: TestActor) => (p === w.patient ? w.guardian : g2);
    const ownerOf = (d: TestActor) => {
      const owner = devices.get(hex(d.key))?.patient;
      return patients.find((p) => hex(p.key) === owner) ?? w.stranger;
    };
    let sender: TestActor;
    let body: TxBody | undefined;
    let replay: Transaction | undefined;
    // Ops 15..19 are extra grants and readings, so that accepted grants and reads through them are common.
    // Ops 22..27 are targeted approvals, so that quorums are actually reached.
    switch (o.op >= 15 && o.op < 20 ? (o.op % 2 === 0 ? 0 : 4) : Math.min(o.op, 22)) {
      case 0: {
        sender = pick(
          [patient, guardianOf(patient), patient, pick(patients, o.b + 1), w.clinician, w.stranger],
          o.a,
        );
        const grantee = pick(
          [
            { kind: 1 as const, key: w.clinician.key },
            { kind: 1 as const, key: w.otherClinician.key },
            { kind: 1 as const, key: c3.key },
            { kind: 1 as const, key: w.researcher.key },
            { kind: 2 as const, orgId: 'org-a' },
            { kind: 2 as const, orgId: 'org-b' },
            { kind: 1 as const, key: w.stranger.key },
          ],
          o.c,
        );
        const purpose = pick([1, 2, 3] as const, o.d);
        body = {
          type: 40,
          patient: patient.key,
          grantee,
          scopes: pick(SCOPE_SETS, o.d + o.c),
          purpose,
          expiresAt: now + (1 + (o.a % 48)) * HOUR,
        };
        break;
      }
      case 1:
        sender = pick([w.patient, p2, w.guardian, w.clinician], o.a);
        body = {
          type: 41,
          patient: patient.key,
          grantId: grantIds.length ? pick(grantIds, o.c) : new Uint8Array(32),
        };
        break;
      case 2:
        sender = pick([...clinicians, w.researcher, w.stranger], o.a);
        body = {
          type: 42,
          patient: patient.key,
          reasonCode: 'ETREAT',
          reason: 'r',
          durationMs: pick([HOUR, DAY, DAY + 1], o.c),
        };
        break;
      case 3:
        sender = pick([...clinicians, w.patient, p2, w.guardian], o.a);
        body = {
          type: 43,
          patient: patient.key,
          accessId: emergencyIds.length ? pick(emergencyIds, o.c) : new Uint8Array(32),
        };
        break;
      case 4: {
        sender = pick([...deviceActors, w.stranger], o.a);
        if (o.c % 4 !== 0 && devices.has(hex(sender.key))) {
          patient = ownerOf(sender);
          P = hex(patient.key);
        }
        const kind = 1 + (o.c % 6);
        const value = pick([72, 98, 120, 80, 370, 16], kind - 1) + (o.d % 3);
        const unit = ['/min', '%', 'mm[Hg]', 'mm[Hg]', 'Cel', '/min'][kind - 1]!;
        body = {
          type: 50,
          patient: patient.key,
          readings: [{ kind, value: kind === 2 ? Math.min(value, 100) : value, unit, measuredAt: now }],
        };
        break;
      }
      case 5:
      case 6: {
        const d = pick(deviceActors, o.c);
        sender = pick([ownerOf(d), ownerOf(d), w.admins[0]!, w.guardian, w.stranger], o.a);
        body =
          o.op === 5 ? { type: 33, device: d.key } : { type: 32, device: d.key, suspended: o.d % 3 !== 0 };
        break;
      }
      case 7: {
        sender = pick([w.patient, p2, w.guardian, w.admins[0]!, w.stranger], o.a);
        const d = deviceActors.length < 8 ? w.actor() : pick(deviceActors, o.c);
        d.signs = false;
        if (!deviceActors.includes(d)) deviceActors.push(d);
        body = { type: 30, device: d.key, patient: patient.key, validFrom: now, validUntil: now + 30 * DAY };
        break;
      }
      case 8:
      case 9:
        sender = pick([w.admins[0]!, w.admins[1]!], o.a);
        body =
          o.op === 8
            ? { type: 12, publicKey: pick([...clinicians, w.researcher], o.c).key, reasonCode: 'x' }
            : { type: 13, publicKey: pick([...clinicians, w.researcher], o.c).key };
        break;
      case 10:
      case 11:
        sender = pick([w.patient, p2, w.guardian, g2, ...spare], o.a);
        body = {
          type: o.op === 10 ? 21 : 22,
          patient: patient.key,
          guardian: pick([w.guardian, g2, ...spare, w.clinician], o.c).key,
        };
        break;
      case 12:
        sender = pick([...clinicians, w.researcher], o.a);
        body = {
          type: 51,
          patient: patient.key,
          readings: [{ kind: 8, value: o.d % 2, unit: '{ACVPU}', measuredAt: now - (o.c % 5) }],
        };
        break;
      case 13:
        if (applied.length === 0) continue;
        replay = pick(applied, o.a);
        sender = w.stranger;
        break;
      case 20: {
        // Governance: a random admin (or a clinician) proposes a new organisation.
        sender = pick([...w.admins, w.coAdmin, w.clinician], o.a);
        const orgId = `org-n${o.c % 4}`;
        body = { type: 1, proposal: { action: 1, orgId, name: orgId, admins: [w.actor().key] } };
        break;
      }
      case 21:
        sender = pick([...w.admins, w.coAdmin, w.clinician], o.a);
        body = { type: 2, proposalId: proposalIds.length ? pick(proposalIds, o.c) : new Uint8Array(32) };
        break;
      case 22: {
        // An admin of an organisation that has not yet approved the newest proposal approves it.
        const id = proposalIds[proposalIds.length - 1];
        const p = id && proposals.get(hex(id));
        if (!id || !p) continue;
        sender = w.admins.find((a) => !p.approvals.has(adminOrg.get(hex(a.key))!)) ?? w.admins[0]!;
        body = { type: 2, proposalId: id };
        break;
      }
      default:
        sender = pick([w.patient, p2, w.guardian, g2, w.stranger], o.a);
        body = { type: 44, patient: patient.key, optIn: o.d % 2 === 0 };
    }
    const tx = replay ?? sender.tx(body!, now);
    const [r] = await w.h.applyBlock([tx], now);
    if (replay) {
      if (r!.ok) throw new Error('a replayed transaction was accepted');
      seen.replays++;
      continue;
    }
    applied.push(tx);
    const S = hex(sender.key);
    const b = body!;
    if (b.type === 50) {
      const dev = devices.get(S);
      const usable = dev && dev.status === 'active' && dev.patient === P;
      if (r!.ok && !usable) throw new Error(`reading accepted from a ${dev ? dev.status : 'unbound'} device`);
      if (!usable && dev?.patient === P) seen.badDeviceRejected++;
    }
    if (!r!.ok) continue;
    seen.acceptedTypes.add(b.type);
    // ---- update the model with the accepted transaction ----
    switch (b.type) {
      case 40:
        if (!entitledToGrant(S, P))
          throw new Error('a grant was accepted from someone not entitled to grant');
        grants.set(hex(r!.txId), {
          id: hex(r!.txId),
          patient: P,
          granteeKey: b.grantee.kind === 1 ? hex(b.grantee.key) : undefined,
          granteeOrg: b.grantee.kind === 2 ? b.grantee.orgId : undefined,
          scopes: b.scopes,
          purpose: b.purpose,
          expiresAt: b.expiresAt,
          grantedBy: S,
        });
        grantIds.push(r!.txId);
        break;
      case 41:
        grants.delete(hex(b.grantId));
        break;
      case 42:
        emergencies.set(hex(r!.txId), { patient: P, clinician: S, expiresAt: now + b.durationMs });
        emergencyIds.push(r!.txId);
        break;
      case 43:
        emergencies.delete(hex(b.accessId));
        break;
      case 30:
        devices.set(hex(b.device), { patient: P, status: 'active' });
        break;
      case 32:
        devices.get(hex(b.device))!.status = b.suspended ? 'suspended' : 'active';
        break;
      case 33:
        devices.get(hex(b.device))!.status = 'revoked';
        break;
      case 12:
        suspended.add(hex(b.publicKey));
        break;
      case 13:
        suspended.delete(hex(b.publicKey));
        break;
      case 21:
        guardians.get(P)!.add(hex(b.guardian));
        break;
      case 22:
        guardians.get(P)!.delete(hex(b.guardian));
        break;
      case 44:
        if (b.optIn) optIn.add(P);
        else optIn.delete(P);
        break;
      case 1: {
        const org = adminOrg.get(S);
        if (!org) throw new Error('a proposal was accepted from a non-admin');
        if (b.proposal.action !== 1) break;
        const id = hex(r!.txId);
        proposals.set(id, {
          orgId: b.proposal.orgId,
          approvals: new Set(),
          executed: false,
          expiresAt: now + 7 * DAY,
        });
        proposalIds.push(r!.txId);
        approve(id, org);
        break;
      }
      case 2: {
        const org = adminOrg.get(S);
        const p = proposals.get(hex(b.proposalId));
        if (!org || !p)
          throw new Error('an approval was accepted from a non-admin or for an unknown proposal');
        if (p.executed || p.approvals.has(org) || p.expiresAt <= now) {
          throw new Error(
            'an approval was accepted for an executed or expired proposal, or twice per organisation',
          );
        }
        approve(hex(b.proposalId), org);
        break;
      }
    }

    // ---- reads: any successful read must be allowed by the model, now and a little later ----
    const readers = [...clinicians, w.researcher, w.stranger, w.guardian, g2, w.admins[0]!];
    const at = now + pick([0, HOUR, DAY], o.a + o.b);
    const kind = (1 + (o.d % 8)) as ReadingKind;
    for (const reader of readers) {
      for (const purpose of [1, 2, 3]) {
        const req = { key: reader.key, purpose };
        for (const [category, read] of [
          [
            readingCategory(kind),
            () => readReadings(w.h.view(), req, { patient: patient.key, kind, from: 0, to: at + DAY }, at),
          ],
          ['alerts', () => readAlerts(w.h.view(), req, { patient: patient.key }, at)],
        ] as const) {
          let ok = true;
          try {
            const res = await read();
            if (res.access.via === 'grant') seen.grantReads++;
            if (res.access.via === 'emergency') seen.emergencyReads++;
          } catch (e) {
            if (!(e instanceof AccessDenied)) throw e;
            seen.deniedReads++;
            ok = false;
          }
          if (ok && !modelAllows(hex(reader.key), P, category, purpose, at)) {
            throw new Error(
              `read of ${category} (purpose ${purpose}) allowed without grant or emergency access`,
            );
          }
        }
      }
      // ---- "grants to me" agrees with the access rule (ADR 0130) ----
      let allowed = false;
      for (const purpose of [1, 2, 3]) {
        for (const category of [...READING_KINDS.map((k) => readingCategory(k)), 'alerts']) {
          const d = await decideAccess(w.h.view().state, reader.key, patient.key, category, purpose, at);
          if (d.allowed && d.via !== 'self') allowed = true;
        }
      }
      const listed = (
        await readAccessToMe(w.h.view(), { key: reader.key, purpose: 1 }, { limit: 1000 }, at)
      ).items.some((a) => bytesEqual(a.patient, patient.key));
      if (listed !== allowed) {
        throw new Error(
          `grants to me ${listed ? 'lists' : 'leaves out'} a patient the rule ${allowed ? 'allows' : 'refuses'}`,
        );
      }
      if (listed) seen.listedToMe++;
    }
  }

  // ---- every grant and break-glass access in state has an entitled origin in the model ----
  for (const p of patients) {
    for (const g of (await readRecord(w.h.state, Keys.grants(p.key), Codec.grants)) ?? []) {
      const m = grants.get(hex(g.grantId));
      if (!m || m.patient !== hex(p.key))
        throw new Error('a grant in state that no entitled party made (or revoked)');
      if (m.grantedBy !== hex(g.grantedBy)) throw new Error('a grant in state names the wrong granter');
    }
    for (const e of (await readRecord(w.h.state, Keys.emergencies(p.key), Codec.emergencies)) ?? []) {
      if (!emergencies.has(hex(e.accessId)))
        throw new Error('a break-glass access in state that was closed or never opened');
    }
  }
  // ---- the access index is exactly what the state implies (what an upgraded database derives) ----
  const scan = (prefix: Uint8Array) => w.h.state.range({ gte: prefix, lt: prefixEnd(prefix) });
  const derived: string[] = [];
  for await (const r of derivedIndexRecords(scan)) derived.push(toHex(r.key));
  const access = makeKey('access');
  const indexed: string[] = [];
  for await (const r of w.h.index.range({ gte: access, lt: prefixEnd(access) })) indexed.push(toHex(r.key));
  if (JSON.stringify(derived.sort()) !== JSON.stringify(indexed)) {
    throw new Error('the access index differs from what the state implies');
  }
  seen.accessEntries += indexed.length;
  // ---- organisations exist exactly when a quorum of organisations approved them ----
  const stateOrgs = (await readRecord(w.h.state, Keys.orgList(), Codec.strings)) ?? [];
  if (JSON.stringify([...orgs].sort()) !== JSON.stringify(stateOrgs)) {
    throw new Error(`organisations ${stateOrgs} differ from the quorum model ${[...orgs].sort()}`);
  }
  seen.orgsRegistered += orgs.size - 4;
  // ---- determinism: the same blocks on a twin harness built from the same genesis ----
  const twin = new Harness(w.h.genesis, { verifier: null });
  for (const blk of w.h.blocks) await twin.applyBlock(blk.txs, blk.blockTime);
  if (!bytesEqual(w.h.root(), twin.root())) throw new Error('two harnesses diverged on the same blocks');
  if (
    JSON.stringify(w.h.events.map((e) => e.event.kind)) !==
    JSON.stringify(twin.events.map((e) => e.event.kind))
  ) {
    throw new Error('events diverged');
  }
}

t.test('random transaction sequences keep the access-control invariants', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(Op, { minLength: 5, maxLength: 40 }), async (ops) => {
      await runSequence(ops);
    }),
    { numRuns: RUNS, seed: SEED },
  );
  t.ok(seen.acceptedTypes.size >= 9, `accepted tx types: ${[...seen.acceptedTypes].sort((a, b) => a - b)}`);
  t.ok(seen.grantReads > 0, `reads through grants: ${seen.grantReads}`);
  t.ok(seen.emergencyReads > 0, `reads through break-glass: ${seen.emergencyReads}`);
  t.ok(seen.deniedReads > 0, `denied reads: ${seen.deniedReads}`);
  t.ok(
    seen.badDeviceRejected > 0,
    `readings from suspended/revoked devices rejected: ${seen.badDeviceRejected}`,
  );
  t.ok(seen.replays > 0, `replays rejected: ${seen.replays}`);
  t.ok(seen.listedToMe > 0, `patients listed by grants to me: ${seen.listedToMe}`);
  t.ok(seen.accessEntries > 0, `access index entries checked against the state: ${seen.accessEntries}`);
  t.ok(seen.acceptedTypes.has(1) && seen.acceptedTypes.has(2), 'governance proposals and approvals accepted');
  t.ok(seen.orgsRegistered > 0, `organisations registered by quorum: ${seen.orgsRegistered}`);
});
