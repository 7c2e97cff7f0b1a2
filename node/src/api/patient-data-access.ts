// The chain routes' patient data: a committed transaction's bytes and a state key's value and proof.
// Both name patients (every patient-related transaction body carries `patient`; the state keys of
// patients, their devices, grants, vitals and alerts embed or lead to the patient's key), so serving
// them to anyone who asks would bypass the access rule and the audit trail that guard the data routes
// (docs/api.md, "Patient data on the chain routes"). This module says what patient data a transaction
// or state key is and decides a signed caller's read of it with the state machine's own rule
// (decideAccess), as the data routes do.
import { bytesEqual } from '@vigil/consensus/wire';
import { ALERTS_CATEGORY, decodeBody } from '@vigil/consensus/wire/bodies/index.ts';
import type { Transaction } from '@vigil/consensus/wire';
import { READING_KINDS, readingCategory, type ReadingKind } from '@vigil/consensus/vitals/index.ts';
import {
  type AccessBasis,
  AccessDenied,
  DenyCode,
  decideAccess,
  Keys,
  type ReadView,
} from '../state-machine/index.ts';
import { patientOrGuardian } from '../state-machine/access.ts';
import { Codec, readRecord } from '../state-machine/records.ts';
import { ApiError } from './problem.ts';
import type { AuthenticatedCaller } from './signed-request.ts';

/** Consents, guardianships, devices and break-glass records: the patient and guardians only. */
export const PATIENT_ONLY = 'patient-only';

export interface PatientData {
  patient: Uint8Array;
  /** The data categories a read of it covers, or PATIENT_ONLY. */
  categories: readonly string[] | typeof PATIENT_ONLY;
  /** A key that may read it without being the patient (the transaction's signer, the device itself). */
  owner?: Uint8Array;
}

const READING_TYPES = new Set([50, 51]);
const ALERT_TYPES = new Set([60, 61]);
const ALL_VITALS: readonly string[] = READING_KINDS.map(readingCategory);

/**
 * The patient data a transaction carries: undefined when its body names no patient (organisations,
 * governance, validator changes: public). A body that does not decode (a rejected transaction) is
 * treated as its signer's alone: nobody can say whose data it is.
 */
export function transactionPatientData(tx: Transaction): PatientData | undefined | 'undecodable' {
  let body: ReturnType<typeof decodeBody>;
  try {
    body = decodeBody(tx.type, tx.body);
  } catch {
    return 'undecodable';
  }
  if (!('patient' in body)) return undefined;
  const categories =
    READING_TYPES.has(tx.type) && 'readings' in body
      ? [...new Set(body.readings.map((r) => readingCategory(r.kind as ReadingKind)))]
      : ALERT_TYPES.has(tx.type)
        ? [ALERTS_CATEGORY]
        : PATIENT_ONLY;
  return { patient: body.patient, categories, owner: tx.sender };
}

const utf8 = new TextDecoder();

/**
 * The patient data a state key holds (docs/state-machine.md, "Key layout"): undefined for public
 * records (parameters, organisations, actors, validators, proposals, and any key that cannot hold a
 * patient's record).
 */
export async function stateKeyPatientData(view: ReadView, key: Uint8Array): Promise<PatientData | undefined> {
  // `sm/<tag>/` then the parts; tags are ASCII.
  if (key.length < 4 || key[0] !== 0x73 || key[1] !== 0x6d || key[2] !== 0x2f) return undefined;
  const slash = key.indexOf(0x2f, 3);
  if (slash < 0) return undefined;
  const tag = utf8.decode(key.subarray(3, slash));
  const rest = key.subarray(slash + 1);
  if (rest.length < 32) return undefined;
  const first = rest.subarray(0, 32);
  switch (tag) {
    case 'latest':
      return { patient: first, categories: ALL_VITALS };
    case 'policy':
    case 'news2':
    case 'alertseq':
    case 'alert':
    case 'alertopen':
      return { patient: first, categories: [ALERTS_CATEGORY] };
    case 'patient':
    case 'grants':
    case 'emerg':
      return { patient: first, categories: PATIENT_ONLY };
    case 'device':
    case 'devseq': {
      // A device record names its patient; a device's measurement sequence is kept under its id, the
      // key it was first bound with, whose record stays.
      const device = await readRecord(view.state, Keys.device(first), Codec.device);
      if (device === undefined) return undefined;
      return { patient: device.patient, categories: PATIENT_ONLY, owner: first };
    }
    default:
      return undefined;
  }
}

/**
 * Decides a signed caller's read of patient data with the state machine's access rule: the patient and
 * guardians read everything; others need access to every category (grant, organisation grant or
 * break-glass), and nothing PATIENT_ONLY. The owner (the transaction's signer, the device) reads what
 * it wrote or is. Research purpose is refused: these bytes name their signers and carry identifiers,
 * and research reads are de-identified (the readings route serves them). Returns the basis to record.
 */
export async function authorizePatientRead(
  view: ReadView,
  who: AuthenticatedCaller,
  data: PatientData,
  now: number,
): Promise<AccessBasis | 'owner'> {
  if (data.owner !== undefined && bytesEqual(who.key, data.owner)) return 'owner';
  const pg = await patientOrGuardian(view.state, data.patient, who.key);
  if (!pg.patient) throw new AccessDenied(DenyCode.UNKNOWN_PATIENT);
  if (pg.as) return { via: pg.as };
  if (data.categories === PATIENT_ONLY) throw new AccessDenied(DenyCode.PATIENT_ONLY);
  if (who.purpose === 2) {
    throw new ApiError(
      403,
      'NOT_DEIDENTIFIED',
      'Research reads are de-identified',
      'transaction bytes and state records name their signers; read readings through /v1/patients/{patient}/readings',
    );
  }
  let basis: AccessBasis | undefined;
  for (const category of data.categories) {
    const d = await decideAccess(view.state, who.key, data.patient, category, who.purpose, now);
    if (!d.allowed) throw new AccessDenied(d.code, `${category}: ${d.code}`);
    if (basis === undefined) {
      const { allowed: _, ...rest } = d;
      basis = rest as AccessBasis;
    }
  }
  if (basis === undefined) throw new AccessDenied(DenyCode.PATIENT_ONLY);
  return basis;
}
