// Ready-made demo identities for `npm start` (docs/dashboard.md "Look around"): a clinician enrolled by
// hospital-0's admin and a patient of the simulated ward who has granted that clinician access, written
// as sensor-client key files (0600) that the dashboard's sign-in imports. The demo patient is the first
// ward patient the simulator will make deteriorate, so alerts arrive within minutes.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  encodeTransaction,
  type Signer,
  signerFromSeed,
  signTransaction,
  toHex,
} from '@vigil/consensus/wire';
import { encodeBody, type TxBody } from '@vigil/consensus/wire/bodies/index.ts';
import { makeCohort } from '@vigil/sensor-client/browser';
import { loadKeyFile, loadOrCreateKeyFile } from '@vigil/sensor-client/sdk/keyfile.ts';

export class DemoSetupError extends Error {
  readonly code: 'DEMO_TX_FAILED' | 'DEMO_PATIENT_NOT_REGISTERED';
  constructor(code: DemoSetupError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

export interface DemoOptions {
  /** The devnet directory (admin keys in <dir>/keys, demo keys go to <dir>/demo). */
  dir: string;
  apiUrl: string;
  /** The simulator's ward size and deterioration fraction (same cohort as sensors.ts, seed 1). */
  patients: number;
  deteriorate: number;
  /** Whether the simulator registers the ward (else the demo patient is registered here). */
  sensors: boolean;
  /** How long to wait for the simulator to register the demo patient. */
  waitMs?: number;
}

export interface Demo {
  clinicianFile: string;
  patientFile: string;
  clinician: string;
  patient: string;
}

async function json<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  const body = (await res.json()) as T & { code?: string; status?: string };
  if (!res.ok) throw new DemoSetupError('DEMO_TX_FAILED', `${url}: ${res.status} ${body.code ?? ''}`);
  return body;
}

/** Submits one transaction and waits for its block; an on-chain rejection is returned, not thrown. */
async function submit(apiUrl: string, chainId: string, signer: Signer, body: TxBody) {
  const acct = await json<{ pendingNonce: number }>(`${apiUrl}/v1/accounts/${toHex(signer.publicKey)}`);
  const tx = signTransaction(
    {
      version: 1,
      chainId,
      type: body.type,
      sender: signer.publicKey,
      nonce: acct.pendingNonce + 1,
      timestamp: Date.now(),
      body: encodeBody(body),
    },
    signer,
  );
  return json<{ status: string; code?: string }>(`${apiUrl}/v1/transactions?wait=commit&timeoutMs=20000`, {
    method: 'POST',
    headers: { 'content-type': 'application/cbor' },
    body: encodeTransaction(tx) as Uint8Array<ArrayBuffer>,
  });
}

export async function setupDemo(o: DemoOptions): Promise<Demo> {
  const demoDir = join(o.dir, 'demo');
  mkdirSync(demoDir, { recursive: true, mode: 0o700 });
  const { chainId } = await json<{ chainId: string }>(`${o.apiUrl}/v1/status`);
  const clinicianFile = join(demoDir, 'clinician.json');
  const patientFile = join(demoDir, 'patient.json');
  const clinician = loadOrCreateKeyFile(clinicianFile);
  let patientSeed: Uint8Array;
  if (o.sensors) {
    const ward = makeCohort({
      seed: 1,
      patients: o.patients,
      startMs: Date.now(),
      deteriorate: o.deteriorate,
      episodeFromMs: 60_000,
      episodeToMs: 240_000,
      onsetMs: 120_000,
    });
    patientSeed = (ward.find((p) => p.profile.episodes.length > 0) ?? ward[0]!).patientSeed;
  } else {
    patientSeed = loadOrCreateKeyFile(join(demoDir, 'patient-seed.json')).seed;
  }
  const patient = existsSync(patientFile)
    ? loadKeyFile(patientFile)
    : loadOrCreateKeyFile(patientFile, patientSeed);
  const patientSigner = signerFromSeed(patient.seed);
  const done = join(demoDir, 'setup-done');
  if (!existsSync(done)) {
    const admin = loadKeyFile(join(o.dir, 'keys', 'hospital-0-admin.json'));
    // Rejections (already enrolled, already registered) are fine on a re-run: only transport fails.
    await submit(o.apiUrl, chainId, signerFromSeed(admin.seed), {
      type: 10,
      publicKey: clinician.publicKey,
      licenceId: 'DEMO-CLINICIAN',
    });
    if (o.sensors) {
      // The simulator registers the patient and binds its wearable (the patient's nonces 1 and 2); the
      // grant must come after them, so wait for both to commit (a bounded start-up wait).
      const deadline = Date.now() + (o.waitMs ?? 60_000);
      for (;;) {
        const a = await json<{ nonce: number }>(`${o.apiUrl}/v1/accounts/${toHex(patient.publicKey)}`);
        if (a.nonce >= 2) break;
        if (Date.now() > deadline) {
          throw new DemoSetupError(
            'DEMO_PATIENT_NOT_REGISTERED',
            'the simulator did not register the demo patient',
          );
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    } else {
      await submit(o.apiUrl, chainId, patientSigner, { type: 20, patient: patient.publicKey });
    }
    const g = await submit(o.apiUrl, chainId, patientSigner, {
      type: 40,
      patient: patient.publicKey,
      grantee: { kind: 1, key: clinician.publicKey },
      scopes: ['vitals.*', 'alerts'],
      purpose: 1,
      expiresAt: Date.now() + 30 * 86_400_000,
    });
    if (g.status !== 'committed') {
      throw new DemoSetupError('DEMO_TX_FAILED', `the demo grant was not committed (${g.code ?? g.status})`);
    }
    writeFileSync(done, `${new Date().toISOString()}\n`);
  }
  return {
    clinicianFile,
    patientFile,
    clinician: toHex(clinician.publicKey),
    patient: toHex(patient.publicKey),
  };
}

/** What `npm start` prints about the dashboard. */
export function demoText(dashboardUrl: string, d: Demo | undefined): string {
  const lines = [`Dashboard: ${dashboardUrl}  (sign in with a key file)`];
  if (d) {
    lines.push(
      `  demo clinician key file: ${d.clinicianFile}  (granted access to patient ${d.patient.slice(0, 8)}…)`,
      `  demo patient key file:   ${d.patientFile}`,
      `  as the clinician, open the patient at ${dashboardUrl}clinician?patient=${d.patient}`,
    );
  }
  return lines.join('\n');
}
