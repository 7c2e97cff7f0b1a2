// The access index (ADR 0130): for each holder of access to a patient (a grantee key, a grantee
// organisation, a clinician with break-glass access, a guardian), an entry per patient and grant. The
// handlers keep it in step with the state records it mirrors, in the block's batch (handlers/common.ts);
// the "grants to me" query (query.ts, readAccessToMe) scans a caller's entries and decides each on the
// state record, never on the entry. A database written before the index existed derives it from the
// state once (derivedIndexRecords, ChainStore.adoptIndexes).

import { decodeCanonical } from '@vigil/consensus/wire';
import { AccessKind, IndexKeys, makeKey, NO_EXPIRY } from './keys.ts';
import { Codec, type EmergencyRecord, encodeIndexValue, type GrantRecord } from './records.ts';

/** A grant's entry: under its grantee key (kind 1) or organisation (kind 2), by expiry. */
export function grantEntry(patient: Uint8Array, g: GrantRecord): Uint8Array {
  const kind = g.granteeKind === 1 ? AccessKind.keyGrant : AccessKind.orgGrant;
  return IndexKeys.access(kind, g.grantee, g.expiresAt, patient, g.grantId);
}

/** A break-glass access's entry: under the clinician who opened it, by expiry. */
export function emergencyEntry(patient: Uint8Array, e: EmergencyRecord): Uint8Array {
  return IndexKeys.access(AccessKind.emergency, e.clinician, e.expiresAt, patient, e.accessId);
}

/** A guardianship's entry: under the guardian, with no expiry. */
export function guardianEntry(patient: Uint8Array, guardian: Uint8Array): Uint8Array {
  return IndexKeys.access(AccessKind.guardian, guardian, NO_EXPIRY, patient);
}

/** An entry's value: the index only finds the state record a reader decides on. */
export function accessEntryValue(): Uint8Array {
  return encodeIndexValue(null);
}

type Scan = (prefix: Uint8Array) => AsyncIterable<{ key: Uint8Array; value: Uint8Array }>;

/** The index key prefixes derivedIndexRecords derives in full (what an upgrade replaces). */
export const DERIVED_INDEX_PREFIXES: readonly Uint8Array[] = [makeKey('access')];

/**
 * The access index as the current state implies it: an entry for every grant, break-glass access and
 * guardianship in the patients' records (expired ones included, as the handlers leave them until the
 * record is next written; a reader passes over them). What a database from before schema 7 adopts.
 */
export async function* derivedIndexRecords(
  scanState: Scan,
): AsyncGenerator<{ key: Uint8Array; value: Uint8Array }> {
  const grants = makeKey('grants');
  for await (const { key, value } of scanState(grants)) {
    const patient = key.subarray(grants.length);
    for (const g of Codec.grants.dec(decodeCanonical(value))) {
      yield { key: grantEntry(patient, g), value: accessEntryValue() };
    }
  }
  const emergencies = makeKey('emerg');
  for await (const { key, value } of scanState(emergencies)) {
    const patient = key.subarray(emergencies.length);
    for (const e of Codec.emergencies.dec(decodeCanonical(value))) {
      yield { key: emergencyEntry(patient, e), value: accessEntryValue() };
    }
  }
  const patients = makeKey('patient');
  for await (const { key, value } of scanState(patients)) {
    const patient = key.subarray(patients.length);
    for (const g of Codec.patient.dec(decodeCanonical(value)).guardians) {
      yield { key: guardianEntry(patient, g), value: accessEntryValue() };
    }
  }
}
