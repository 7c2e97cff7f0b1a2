import fc from 'fast-check';
import t, { type Test } from 'tap';
import { decodeCanonical, encodeCanonical } from '../cbor.ts';
import { decodeBody, encodeBody, type TxBody } from './bodies.ts';
import { BodyError } from './errors.ts';
import { utf8Length } from './fields.ts';
import { scopeCovers, scopesCover } from './scope.ts';

const k = (n: number) => new Uint8Array(32).fill(n);

// One valid body per transaction type.
const samples: TxBody[] = [
  { type: 1, proposal: { action: 1, orgId: 'st-mary', name: "St Mary's", admins: [k(1), k(2)] } },
  { type: 1, proposal: { action: 2, publicKey: k(3), orgId: 'st-mary' } },
  { type: 1, proposal: { action: 3, publicKey: k(3) } },
  { type: 1, proposal: { action: 4, name: 'governanceTtlMs', value: 86_400_000 } },
  { type: 2, proposalId: k(4) },
  { type: 10, publicKey: k(5), licenceId: 'GMC-1234567' },
  { type: 11, publicKey: k(5), studyId: 'NCT01234567' },
  { type: 12, publicKey: k(5), reasonCode: 'misconduct' },
  { type: 13, publicKey: k(5) },
  { type: 20, patient: k(6) },
  { type: 21, patient: k(6), guardian: k(7) },
  { type: 22, patient: k(6), guardian: k(7) },
  { type: 30, device: k(8), patient: k(6), validFrom: 1, validUntil: 2 },
  { type: 31, device: k(8), newKey: k(9), overlapMs: 60_000 },
  { type: 32, device: k(8), suspended: true },
  { type: 33, device: k(8) },
  {
    type: 40,
    patient: k(6),
    grantee: { kind: 1, key: k(5) },
    scopes: ['vitals.*', 'alerts'],
    purpose: 1,
    expiresAt: 10,
  },
  {
    type: 40,
    patient: k(6),
    grantee: { kind: 2, orgId: 'st-mary' },
    scopes: ['*'],
    purpose: 2,
    expiresAt: 10,
  },
  { type: 41, patient: k(6), grantId: k(10) },
  { type: 42, patient: k(6), reasonCode: 'ETREAT', reason: 'unconscious on arrival', durationMs: 3_600_000 },
  { type: 43, patient: k(6), accessId: k(11) },
  { type: 44, patient: k(6), optIn: false },
  { type: 50, patient: k(6), readings: [{ kind: 1, value: 72, unit: '/min', measuredAt: 5 }] },
  { type: 51, patient: k(6), readings: [{ kind: 8, value: 0, unit: '{ACVPU}', measuredAt: 5 }] },
  { type: 52, reader: k(5), patient: k(6), categories: ['vitals.heartRate'], purpose: 1, readAt: 7 },
  { type: 60, patient: k(6), thresholds: [{ kind: 1, low: 50, high: 120 }], spo2Scale2: true },
  { type: 61, patient: k(6), alertSeq: 1 },
];

t.test('every body round-trips through canonical CBOR', async (t) => {
  const types = new Set(samples.map((s) => s.type));
  t.equal(types.size, 23, 'one sample per transaction type');
  for (const s of samples) {
    const wire = decodeCanonical(encodeCanonical(encodeBody(s))) as never;
    t.same(decodeBody(s.type, wire), s, `type ${s.type}`);
  }
});

function rejects(t: Test, type: number, body: unknown[], code: string, field?: string) {
  try {
    decodeBody(type, body as never);
    t.fail(`type ${type} accepted ${JSON.stringify(body)}`);
  } catch (e) {
    t.ok(e instanceof BodyError, 'BodyError');
    t.equal((e as BodyError).code, code, `${type}: ${(e as Error).message}`);
    if (field) t.equal((e as BodyError).field, field);
  }
}

t.test('malformed bodies are rejected with a typed error naming the field', async (t) => {
  rejects(t, 99, [], 'BODY_UNKNOWN_TYPE');
  rejects(t, 20, [], 'BODY_ARITY', 'body');
  rejects(t, 20, [k(1), 1], 'BODY_ARITY');
  rejects(t, 20, [new Uint8Array(31)], 'BODY_FIELD', 'patient');
  rejects(t, 20, ['x'], 'BODY_FIELD', 'patient');
  rejects(t, 1, [[9, []]], 'BODY_ENUM', 'proposal.action');
  rejects(t, 1, [[1, ['Bad Id', 'x', [k(1)]]]], 'BODY_FIELD', 'proposal.args.orgId');
  rejects(t, 1, [[1, ['ok', 'x', []]]], 'BODY_FIELD', 'proposal.args.admins');
  rejects(t, 1, [[4, ['p', -1]]], 'BODY_FIELD', 'proposal.args.value');
  rejects(t, 10, [k(1), 'has space'], 'BODY_FIELD', 'licenceId');
  rejects(t, 10, [k(1), 'x'.repeat(65)], 'BODY_FIELD', 'licenceId');
  rejects(t, 30, [k(1), k(2), 1.5, 2], 'BODY_FIELD', 'validFrom');
  rejects(t, 32, [k(1), 1], 'BODY_FIELD', 'suspended');
  rejects(t, 40, [k(1), 3, k(2), ['*'], 1, 1], 'BODY_ENUM', 'granteeKind');
  rejects(t, 40, [k(1), 1, 'org', ['*'], 1, 1], 'BODY_FIELD', 'grantee');
  rejects(t, 40, [k(1), 1, k(2), ['vitals.nonsense'], 1, 1], 'BODY_ENUM', 'scopes[0]');
  rejects(t, 40, [k(1), 1, k(2), [], 1, 1], 'BODY_FIELD', 'scopes');
  rejects(t, 40, [k(1), 1, k(2), ['*', '*'], 1, 1], 'BODY_FIELD', 'scopes');
  rejects(t, 40, [k(1), 1, k(2), ['*'], 4, 1], 'BODY_ENUM', 'purpose');
  rejects(t, 42, [k(1), 'WHY', 'x', 1], 'BODY_ENUM', 'reasonCode');
  rejects(t, 42, [k(1), 'ETREAT', '', 1], 'BODY_FIELD', 'reason');
  rejects(t, 42, [k(1), 'ETREAT', 'é'.repeat(257), 1], 'BODY_FIELD', 'reason');
  rejects(t, 42, [k(1), 'ETREAT', 'x', 0], 'BODY_FIELD', 'durationMs');
  rejects(t, 50, [k(1), []], 'BODY_FIELD', 'readings');
  rejects(t, 50, [k(1), Array.from({ length: 65 }, () => [1, 70, '/min', 1])], 'BODY_FIELD', 'readings');
  rejects(t, 50, [k(1), [[1, 70, '/min']]], 'BODY_ARITY', 'readings[0]');
  rejects(t, 50, [k(1), [[1, 70.5, '/min', 1]]], 'BODY_FIELD', 'readings[0].value');
  rejects(t, 50, [k(1), [[0, 70, '/min', 1]]], 'BODY_FIELD', 'readings[0].kind');
  rejects(t, 52, [k(1), k(2), ['*'], 1, 1], 'BODY_ENUM', 'categories[0]');
  rejects(t, 60, [k(1), [[1, 100, 50]], false], 'BODY_FIELD', 'thresholds[0]');
  rejects(
    t,
    60,
    [
      k(1),
      [
        [1, 1, 5],
        [1, 2, 6],
      ],
      false,
    ],
    'BODY_FIELD',
    'thresholds',
  );
  rejects(t, 61, [k(1), 0], 'BODY_FIELD', 'alertSeq');
});

t.test('scopes cover categories by exact name, family wildcard or *', async (t) => {
  t.ok(scopeCovers('*', 'alerts'));
  t.ok(scopeCovers('vitals.*', 'vitals.heartRate'));
  t.notOk(scopeCovers('vitals.*', 'alerts'));
  t.ok(scopeCovers('vitals.spo2', 'vitals.spo2'));
  t.notOk(scopeCovers('vitals.spo2', 'vitals.heartRate'));
  t.ok(scopesCover(['alerts', 'vitals.spo2'], 'vitals.spo2'));
  t.notOk(scopesCover(['alerts'], 'vitals.spo2'));
});

t.test('utf8Length counts what TextEncoder writes, lone surrogates included', async (t) => {
  const encoder = new TextEncoder();
  const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.string({ unit: 'grapheme', maxLength: 20 }),
        fc.string({ unit: anyUnit, maxLength: 40 }),
      ),
      (s) => utf8Length(s) === encoder.encode(s).length,
    ),
    { numRuns: 3000 },
  );
  for (const s of ['', 'mm[Hg]', 'é', '€', '😀', '\ud83d', '\ude00x', 'a\ud83d\ude00b'])
    t.equal(utf8Length(s), encoder.encode(s).length, JSON.stringify(s));
});
