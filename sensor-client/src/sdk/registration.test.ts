import { signerFromSeed } from '@vigil/consensus/wire';
import { decodeBody } from '@vigil/consensus/wire/bodies/index.ts';
import t from 'tap';
import { Rng } from '../sim/prng.ts';
import { FakeLedger, FakeNode } from '../testing/fake-node.ts';
import { toHex } from '../util/hex.ts';
import { NodeClient } from './api-client.ts';
import { enrolDevice } from './registration.ts';

t.test('enrolDevice: patient self-registration then bindDevice, continuing the patient nonce', async (t) => {
  const ledger = new FakeLedger('vigil-test');
  const node = new FakeNode(ledger);
  await node.start();
  t.teardown(() => node.stop());
  const rng = new Rng(8);
  const patient = signerFromSeed(rng.bytes(32));
  const device = signerFromSeed(rng.bytes(32));
  const client = new NodeClient({ nodes: [node.url] });
  const now = Date.UTC(2026, 0, 1);
  const r = await enrolDevice(client, {
    chainId: 'vigil-test',
    registrar: patient,
    patient: patient.publicKey,
    device: device.publicKey,
    now,
    register: true,
  });
  t.ok(r.registerPatient?.ok && r.bindDevice.ok);
  const [reg, bind] = ledger.committed;
  t.same([reg!.tx.type, reg!.tx.nonce, bind!.tx.type, bind!.tx.nonce], [20, 1, 30, 2]);
  t.equal(toHex(bind!.tx.sender), toHex(patient.publicKey), 'signed by the controller, not the device');
  const body = decodeBody(bind!.tx.type, bind!.tx.body);
  t.ok(
    body.type === 30 &&
      toHex(body.device) === toHex(device.publicKey) &&
      body.validFrom < now &&
      body.validUntil > now,
  );
  // A second device for the same patient: no re-registration, next nonce.
  const other = signerFromSeed(rng.bytes(32));
  const r2 = await enrolDevice(client, {
    chainId: 'vigil-test',
    registrar: patient,
    patient: patient.publicKey,
    device: other.publicKey,
    now,
    register: false,
  });
  t.equal(r2.registerPatient, undefined);
  t.ok(r2.bindDevice.ok);
  t.equal(ledger.committed[2]!.tx.nonce, 3);
});
