// Observation ids: clinical ids name the carrying transaction; research ids name none (ADR 0120).
import t from 'tap';
import type { Reading } from '../../state-machine/query.ts';
import { isResearchObservationId, observation, observationId, parseObservationId } from './resources.ts';

const at = 1_700_000_000_000;
const tx = new Uint8Array(32).fill(0xab);
const reading = (kind: number, extra: Partial<Reading>): Reading => ({
  kind,
  value: 100,
  unit: kind === 1 ? '/min' : 'mm[Hg]',
  measuredAt: at,
  ...extra,
});

t.test('a treatment read names the transaction, as before', async (t) => {
  const id = observationId(reading(1, { txId: tx, ordinal: 3 }));
  t.equal(id, `k1-${at}-abababababababab`);
  t.same(parseObservationId(id), { kinds: [1], measuredAt: at, txPrefix: 'abababababababab' });
  t.notOk(isResearchObservationId(id));
  t.equal(observationId(reading(4, { txId: tx })), `bp-${at}-abababababababab`);
});

t.test('a research read names kind, time and rank; a half ranked alone says which half', async (t) => {
  t.equal(observationId(reading(1, { ordinal: 0 })), `k1-${at}-r0`);
  t.equal(observationId(reading(3, { ordinal: 2 })), `bp-${at}-r2`);
  t.equal(observationId(reading(4, { ordinal: 2 })), `bp-${at}-r2`, 'the halves of one signer share it');
  t.equal(observationId(reading(3, { ordinal: 0 }), true), `bp-${at}-s0`);
  t.equal(observationId(reading(4, { ordinal: 0 }), true), `bp-${at}-d0`);
  t.equal(observationId(reading(1, { ordinal: 1 }), true), `k1-${at}-r1`, 'only panels have halves');
  for (const id of [`k1-${at}-r0`, `bp-${at}-r12`, `bp-${at}-s0`, `bp-${at}-d7`]) {
    t.ok(isResearchObservationId(id), id);
    t.equal(parseObservationId(id), undefined, `${id} names no transaction`);
  }
  for (const id of [`k1-${at}-s0`, `k7-${at}-r0`, `bp-${at}-r01`, `k1-${at}-anon`, `bp-${at}-r`]) {
    t.notOk(isResearchObservationId(id), id);
  }
  t.throws(() => observationId(reading(1, {})), /neither a tx id nor an ordinal/);
  const o = observation({ patientHex: 'aa', readings: [reading(3, { ordinal: 1 })], unpairedHalf: true });
  t.match(o, { id: `bp-${at}-s1`, component: [{ code: { coding: [{ code: '8480-6' }] } }] });
  t.notOk('issued' in o || 'device' in o, 'no commit time or device');
});
