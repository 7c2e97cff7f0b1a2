// An expired grant stops working at the exact block time (docs/state-machine.md: a grant is valid
// while blockTime < expiresAt, access.ts). Writes that need access are decided at the block time of
// the block that carries them, reads at the time they are evaluated: one millisecond before
// `expiresAt` both work, at `expiresAt` both are refused, on every node alike (the block time is
// agreed in the header, never a node's clock).
import t from 'tap';
import { AccessDenied, readConsents, readReadings } from '../state-machine/index.ts';
import { World } from '../state-machine/testing/world.ts';

t.test('a grant works until the block time reaches expiresAt, and not one millisecond longer', async (t) => {
  const w = await new World().populated();
  const P = w.patient.key;
  await w.grantClinician(['*'], 1);
  // The grant above expires at (its block time) + 1 day; find it exactly.
  const grants = await readConsents(w.h.view(), { key: P, purpose: 1 }, P, w.now);
  const expiresAt = grants.grants[0]!.expiresAt;
  t.ok(expiresAt > w.now, 'an unexpired grant');

  // A clinician observation (recordObservation needs treatment access at the block time).
  const observe = (at: number) =>
    w.run(w.clinician, { type: 51, patient: P, readings: [w.reading(8, 0, at)] }, at - w.now);

  const before = await observe(expiresAt - 1);
  t.equal(w.now, expiresAt - 1, 'the block time is one millisecond before expiry');
  t.ok(before.ok, `accepted at expiresAt - 1 (${before.code ?? 'ok'})`);
  const at = await observe(expiresAt);
  t.equal(w.now, expiresAt, 'the block time is exactly expiresAt');
  t.equal(at.code, 'NO_ACCESS', 'refused at expiresAt');

  // Reads follow the same rule at the time they are evaluated.
  const q = { patient: P, kind: 8, from: 0, to: expiresAt + 1 };
  const clin = { key: w.clinician.key, purpose: 1 };
  t.equal(
    (await readReadings(w.h.view(), clin, q, expiresAt - 1)).items.length,
    1,
    'readable at expiresAt - 1',
  );
  try {
    await readReadings(w.h.view(), clin, q, expiresAt);
    t.fail('read at expiresAt must be refused');
  } catch (e) {
    t.ok(e instanceof AccessDenied);
    t.equal((e as AccessDenied).code, 'GRANT_EXPIRED', 'refused at expiresAt with GRANT_EXPIRED');
  }
});
