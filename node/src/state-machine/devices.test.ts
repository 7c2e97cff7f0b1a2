import t from 'tap';
import type { TxBody } from '@vigil/consensus/wire/bodies/index.ts';
import { DAY, HOUR, World } from './testing/world.ts';

const bind = (w: World, device: Uint8Array, from = w.now, until = w.now + DAY): TxBody => ({
  type: 30,
  device,
  patient: w.patient.key,
  validFrom: from,
  validUntil: until,
});

t.test('bindDevice', async (t) => {
  const w = await new World().populated();
  t.ok((await w.run(w.patient, bind(w, w.actor().key))).ok, 'by the patient');
  t.ok((await w.run(w.guardian, bind(w, w.actor().key))).ok, 'by a guardian');
  t.ok((await w.run(w.admins[2]!, bind(w, w.actor().key))).ok, 'by an organisation admin');
  t.equal((await w.run(w.clinician, bind(w, w.actor().key))).code, 'NOT_DEVICE_CONTROLLER');
  t.equal((await w.run(w.stranger, bind(w, w.actor().key))).code, 'NOT_DEVICE_CONTROLLER');
  t.equal(
    (await w.run(w.patient, { ...bind(w, w.actor().key), patient: w.stranger.key } as TxBody)).code,
    'UNKNOWN_PATIENT',
  );
  t.equal((await w.run(w.patient, bind(w, w.device.key))).code, 'KEY_IN_USE', 'a device key is bound once');
  t.equal((await w.run(w.patient, bind(w, w.clinician.key))).code, 'KEY_IN_USE');
  t.equal((await w.run(w.patient, bind(w, w.actor().key, w.now + 10, w.now + 5))).code, 'BAD_VALIDITY');
  t.equal(
    (await w.run(w.patient, bind(w, w.actor().key, w.now - 2 * DAY, w.now - DAY))).code,
    'BAD_VALIDITY',
    'already over',
  );
  t.equal(
    (await w.run(w.patient, bind(w, w.actor().key, w.now, w.now + 3 * 365 * DAY))).code,
    'BAD_VALIDITY',
    'too long',
  );
});

t.test('rotateDeviceKey: both keys accepted during the overlap, then only the new one', async (t) => {
  const w = await new World().populated();
  const next = w.actor();
  const hr = (v: number) => [w.reading(1, v, w.now + 1000)];
  t.equal(
    (await w.run(w.stranger, { type: 31, device: w.device.key, newKey: next.key, overlapMs: HOUR })).code,
    'NOT_DEVICE_CONTROLLER',
  );
  t.equal(
    (await w.run(w.device, { type: 31, device: w.device.key, newKey: next.key, overlapMs: 8 * DAY })).code,
    'OVERLAP_TOO_LONG',
  );
  t.equal(
    (await w.run(w.device, { type: 31, device: w.device.key, newKey: w.patient.key, overlapMs: HOUR })).code,
    'KEY_IN_USE',
  );
  t.equal(
    (await w.run(w.device, { type: 31, device: w.stranger.key, newKey: next.key, overlapMs: HOUR })).code,
    'UNKNOWN_DEVICE',
  );
  t.ok(
    (await w.run(w.device, { type: 31, device: w.device.key, newKey: next.key, overlapMs: HOUR })).ok,
    'device rotates itself',
  );
  t.equal(
    (await w.run(w.device, { type: 31, device: w.device.key, newKey: w.actor().key, overlapMs: HOUR })).code,
    'ALREADY_ROTATED',
  );
  t.ok(
    (await w.run(w.device, { type: 50, patient: w.patient.key, readings: hr(70) })).ok,
    'old key inside overlap',
  );
  t.ok((await w.run(next, { type: 50, patient: w.patient.key, readings: hr(71) })).ok, 'new key');
  // The reading order is per physical device: the new key cannot go back before the old key's last time.
  t.equal(
    (await w.run(next, { type: 50, patient: w.patient.key, readings: [w.reading(1, 72, w.now - 5000)] }))
      .code,
    'READING_NOT_INCREASING',
  );
  t.equal(
    (await w.run(w.device, { type: 50, patient: w.patient.key, readings: hr(70) }, HOUR)).code,
    'DEVICE_RETIRED',
  );
  t.ok((await w.run(next, { type: 50, patient: w.patient.key, readings: hr(73) })).ok);
  t.ok(
    (await w.run(w.guardian, { type: 31, device: next.key, newKey: w.actor().key, overlapMs: 0 })).ok,
    'guardian rotates',
  );
});

t.test('suspendDevice and revokeDevice', async (t) => {
  const w = await new World().populated();
  const send = (d = w.device) =>
    w.run(d, { type: 50, patient: w.patient.key, readings: [w.reading(2, 97, w.now + 1000)] });
  t.equal(
    (await w.run(w.clinician, { type: 32, device: w.device.key, suspended: true })).code,
    'NOT_DEVICE_CONTROLLER',
  );
  t.equal((await w.run(w.patient, { type: 32, device: w.device.key, suspended: false })).code, 'NO_CHANGE');
  t.equal(
    (await w.run(w.patient, { type: 32, device: w.stranger.key, suspended: true })).code,
    'UNKNOWN_DEVICE',
  );
  t.ok((await w.run(w.patient, { type: 32, device: w.device.key, suspended: true })).ok);
  t.equal((await send()).code, 'DEVICE_SUSPENDED');
  t.ok(
    (await w.run(w.admins[1]!, { type: 32, device: w.device.key, suspended: false })).ok,
    'resumed by an admin',
  );
  t.ok((await send()).ok);
  const next = w.actor();
  await w.ok(w.device, { type: 31, device: w.device.key, newKey: next.key, overlapMs: HOUR });
  t.equal((await w.run(w.stranger, { type: 33, device: w.device.key })).code, 'NOT_DEVICE_CONTROLLER');
  t.ok((await w.run(w.guardian, { type: 33, device: w.device.key })).ok, 'revoked');
  t.equal((await send()).code, 'DEVICE_REVOKED');
  t.equal((await send(next)).code, 'DEVICE_REVOKED', 'the rotation successor is revoked with it');
  t.equal((await w.run(w.patient, { type: 33, device: w.device.key })).code, 'DEVICE_REVOKED');
  t.equal(
    (await w.run(w.patient, { type: 32, device: w.device.key, suspended: false })).code,
    'DEVICE_REVOKED',
  );
  t.equal(
    (await w.run(w.device, { type: 31, device: w.device.key, newKey: w.actor().key, overlapMs: 0 })).code,
    'DEVICE_REVOKED',
  );
  t.equal((await w.run(w.patient, { type: 33, device: w.stranger.key })).code, 'UNKNOWN_DEVICE');
  t.equal(
    (await w.run(w.patient, bind(w, w.device.key))).code,
    'KEY_IN_USE',
    'a revoked key is never re-bound',
  );
});

t.test('a suspended admin cannot control devices', async (t) => {
  const w = await new World().populated();
  await w.ok(w.coAdmin, { type: 12, publicKey: w.admins[0]!.key, reasonCode: 'x' });
  t.equal((await w.run(w.admins[0]!, bind(w, w.actor().key))).code, 'SENDER_SUSPENDED');
});

t.test('suspending or revoking any key of a rotated device stops every key of it', async (t) => {
  // A rotated device: A (the original key, inside a 24 h overlap) and its successor B.
  const rotated = async () => {
    const w = await new World().populated();
    const b = w.actor();
    await w.ok(w.device, { type: 31, device: w.device.key, newKey: b.key, overlapMs: 24 * HOUR });
    const send = (k: typeof b, advance = 1000) =>
      w.run(k, { type: 50, patient: w.patient.key, readings: [w.reading(1, 70, w.now + advance)] }, advance);
    return { w, a: w.device, b, send };
  };
  {
    const { w, a, b, send } = await rotated();
    t.ok((await w.run(w.patient, { type: 33, device: b.key })).ok, 'revoke the successor');
    t.equal((await send(b)).code, 'DEVICE_REVOKED');
    t.equal((await send(a)).code, 'DEVICE_REVOKED', 'the predecessor inside its overlap too');
    t.equal((await send(a, 20 * HOUR)).code, 'DEVICE_REVOKED', 'for the rest of the overlap');
    t.equal((await w.run(w.patient, { type: 33, device: a.key })).code, 'DEVICE_REVOKED');
    t.equal((await w.run(w.patient, { type: 32, device: a.key, suspended: false })).code, 'DEVICE_REVOKED');
  }
  {
    const { w, a, b, send } = await rotated();
    t.ok((await w.run(w.guardian, { type: 33, device: a.key })).ok, 'revoke the predecessor');
    t.equal((await send(a)).code, 'DEVICE_REVOKED');
    t.equal((await send(b)).code, 'DEVICE_REVOKED', 'the successor with it');
  }
  {
    const { w, a, b, send } = await rotated();
    t.ok((await w.run(w.patient, { type: 32, device: b.key, suspended: true })).ok, 'suspend the successor');
    t.equal((await send(b)).code, 'DEVICE_SUSPENDED');
    t.equal((await send(a)).code, 'DEVICE_SUSPENDED', 'the predecessor inside its overlap too');
    t.equal(
      (await w.run(w.patient, { type: 32, device: a.key, suspended: true })).code,
      'NO_CHANGE',
      'the device is one: already suspended under either key',
    );
    t.ok(
      (await w.run(w.admins[1]!, { type: 32, device: a.key, suspended: false })).ok,
      'resumed through the predecessor',
    );
    t.ok((await send(a)).ok, 'both keys send again');
    t.ok((await send(b)).ok);
  }
  {
    const { w, a, b, send } = await rotated();
    t.ok(
      (await w.run(w.patient, { type: 32, device: a.key, suspended: true })).ok,
      'suspend the predecessor',
    );
    t.equal((await send(a)).code, 'DEVICE_SUSPENDED');
    t.equal((await send(b)).code, 'DEVICE_SUSPENDED', 'the successor too');
    t.ok((await w.run(w.patient, { type: 32, device: b.key, suspended: false })).ok);
    t.ok((await send(a)).ok);
    t.ok((await send(b)).ok);
  }
  {
    // Two rotations in a row: A and B are both still inside their overlaps when C is revoked.
    const { w, a, b, send } = await rotated();
    const c = w.actor();
    await w.ok(b, { type: 31, device: b.key, newKey: c.key, overlapMs: 24 * HOUR });
    t.ok((await w.run(w.patient, { type: 33, device: c.key })).ok);
    for (const k of [a, b, c]) t.equal((await send(k)).code, 'DEVICE_REVOKED');
  }
});

t.test("a guardian's key is not bound or rotated to as the patient's device", async (t) => {
  // appointGuardian refuses a device key; the other order must be refused as well. A fresh world per
  // case: one accepted binding would make the next case's key a device already.
  const send = (w: World) =>
    w.run(w.guardian, { type: 50, patient: w.patient.key, readings: [w.reading(1, 70, w.now + 1000)] });
  for (const [why, by] of [
    ['bound by the patient', (w: World) => w.patient],
    ['bound by an admin', (w: World) => w.admins[1]!],
  ] as const) {
    const w = await new World().populated();
    t.equal((await w.run(by(w), bind(w, w.guardian.key))).code, 'KEY_IN_USE', why);
    t.equal((await send(w)).code, 'UNKNOWN_DEVICE', 'the guardian never became a device');
  }
  {
    const w = await new World().populated();
    t.equal(
      (await w.run(w.device, { type: 31, device: w.device.key, newKey: w.guardian.key, overlapMs: 0 })).code,
      'KEY_IN_USE',
      'rotated to',
    );
    t.equal((await send(w)).code, 'UNKNOWN_DEVICE');
    // Once the guardian steps down, the key is free again.
    await w.ok(w.guardian, { type: 22, patient: w.patient.key, guardian: w.guardian.key });
    t.ok((await w.run(w.patient, bind(w, w.guardian.key))).ok);
  }
});
