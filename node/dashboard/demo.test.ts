// `npm start`'s demo identities against a live validator: key files the dashboard can import (0600), a
// clinician enrolled and granted access by the demo patient, and a second run that changes nothing.
import { readFileSync, statSync } from 'node:fs';
import { signerFromSeed } from '@vigil/consensus/wire';
import t from 'tap';
import { signRequest } from '../src/api/signed-request-client.ts';
import { startTestNode } from '../src/api/testing/node.ts';
import { demoText, setupDemo } from './demo.ts';
import { parseKeyFile } from './src/session.ts';

const node = await startTestNode();
t.teardown(() => node.close());
await node.app.listen({ host: '127.0.0.1', port: 0 });
const addr = node.app.server.address();
const apiUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;

t.test('demo keys: a clinician with a grant from a patient', async (t) => {
  const o = { dir: node.dir, apiUrl, patients: 1, deteriorate: 0, sensors: false };
  const demo = await setupDemo(o);
  for (const f of [demo.clinicianFile, demo.patientFile]) {
    t.equal(statSync(f).mode & 0o777, 0o600, `${f} is private`);
  }
  const clinician = parseKeyFile(readFileSync(demo.clinicianFile, 'utf8'));
  t.equal(clinician.publicKey, demo.clinician, 'the dashboard imports the key file');
  const target = `/v1/patients/${demo.patient}/news2`;
  const headers = signRequest({
    chainId: node.chainId,
    signer: signerFromSeed(clinician.seed),
    method: 'GET',
    target,
  });
  const r = await node.app.inject({ method: 'GET', url: target, headers });
  t.equal(r.statusCode, 200, r.body);
  t.equal(r.json().access.via, 'grant', 'the clinician reads by the demo grant');
  const again = await setupDemo(o);
  t.same(again, demo, 'a second start reuses the same identities');
  t.match(demoText(`${apiUrl}/`, demo), `clinician?patient=${demo.patient}`);
});
