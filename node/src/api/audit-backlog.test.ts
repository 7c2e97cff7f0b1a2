// Fail closed: a node that cannot put a read in the audit trail does not serve the data (docs/api.md
// "Audit of reads"). With no room for outstanding records at all, a clinician's read is refused with
// 503 AUDIT_BACKLOG and retry-after, while the patient's own reads (never recorded) are served.
import { toHex } from '@vigil/consensus/wire';
import t from 'tap';
import { signRequest } from './signed-request-client.ts';
import { Actor, startTestNode } from './testing/node.ts';

t.test('no room for the audit record: the read is refused, not served unaudited', async (t) => {
  const node = await startTestNode({ accessRecorder: { flushMs: 20, maxOutstanding: 0 } });
  t.teardown(() => node.close());
  const { app, chainId } = node;
  const commit = async (bytes: Uint8Array) => {
    const r = await app.inject({
      method: 'POST',
      url: '/v1/transactions?wait=commit&timeoutMs=20000',
      headers: { 'content-type': 'application/cbor' },
      payload: Buffer.from(bytes),
    });
    t.equal(r.json().status, 'committed', r.body);
  };
  const clinician = new Actor('backlog-clinician', chainId);
  const patient = new Actor('backlog-patient', chainId);
  await commit(node.admin.bytes({ type: 10, publicKey: clinician.key, licenceId: 'GMC-B' }));
  await commit(patient.bytes({ type: 20, patient: patient.key }));
  await commit(
    patient.bytes({
      type: 40,
      patient: patient.key,
      grantee: { kind: 1, key: clinician.key },
      scopes: ['vitals.*', 'alerts'],
      purpose: 1,
      expiresAt: Date.now() + 86_400_000,
    }),
  );
  const target = `/v1/patients/${toHex(patient.key)}/alerts`;
  const get = (who: Actor) =>
    app.inject({
      url: target,
      headers: signRequest({ chainId, signer: who.signer, method: 'GET', target, purpose: 1 }),
    });
  const refused = await get(clinician);
  t.equal(refused.statusCode, 503);
  t.equal(refused.json().code, 'AUDIT_BACKLOG');
  t.equal(refused.headers['retry-after'], '1');
  t.notOk('items' in refused.json(), 'no data in the refusal');
  const fhirTarget = `/fhir/Observation?patient=${toHex(patient.key)}&code=8867-4`;
  const fhir = await app.inject({
    url: fhirTarget,
    headers: signRequest({
      chainId,
      signer: clinician.signer,
      method: 'GET',
      target: fhirTarget,
      purpose: 1,
    }),
  });
  t.equal(fhir.statusCode, 503, 'the FHIR facade refuses too');
  t.match(fhir.body, /AUDIT_BACKLOG/);
  t.notMatch(fhir.body, /"resourceType":"Bundle"/);
  const own = await get(patient);
  t.equal(own.statusCode, 200, 'the patient reading their own record is not recorded, so it is served');
});
