// The query layer: reads over a read-only view of the state and the index, filtered by the same access
// rule the handlers apply (access.ts). A refusal is a typed AccessDenied with a stable code. The HTTP API
// calls these and then records each successful read on chain with a recordAccess transaction.

import { bytesEqual, decodeCanonical, fromHex, toHex } from '@vigil/consensus/wire';
import { ALERTS_CATEGORY, Purpose, type TxBody } from '@vigil/consensus/wire/bodies/index.ts';
import {
  computeNews2,
  NEWS2_PARAMETERS,
  type News2Inputs,
  type ReadingKind,
  readingCategory,
  readingKindSpec,
} from '@vigil/consensus/vitals/index.ts';
import {
  type AccessBasis,
  DenyCode,
  decideAccess,
  grantNames,
  isActive,
  isGuardian,
  liveEmergencies,
  liveGrants,
  patientOrGuardian,
} from './access.ts';
import { AccessKind, IndexKeys, Keys, makeKey, prefixEnd, readU64 } from './keys.ts';
import {
  type ActorRecord,
  type AlertRecord,
  Codec,
  type EmergencyRecord,
  type GrantRecord,
  Role,
  type StateGet,
  readRecord,
} from './records.ts';

export interface KeyValueView extends StateGet {
  /** Entries with gte <= key < lt in key order (reverse: descending), at most `limit`. */
  range(opts: { gte: Uint8Array; lt: Uint8Array; limit?: number; reverse?: boolean }): AsyncIterable<{
    key: Uint8Array;
    value: Uint8Array;
  }>;
}

/** What node-core's store offers the query layer: point reads of the state, point reads and range
 *  scans of the index (see store-view.ts for the ChainStore adapter). */
export interface ReadView {
  state: StateGet;
  index: KeyValueView;
}

export interface Requester {
  key: Uint8Array;
  purpose: number;
}

export class AccessDenied extends Error {
  readonly code: DenyCode;
  constructor(code: DenyCode, message?: string) {
    super(message ?? code);
    this.name = 'AccessDenied';
    this.code = code;
  }
}

export const QueryErrorCode = {
  BAD_KIND: 'BAD_KIND',
  BAD_RANGE: 'BAD_RANGE',
  BAD_CURSOR: 'BAD_CURSOR',
  BAD_LIMIT: 'BAD_LIMIT',
} as const;
export type QueryErrorCode = (typeof QueryErrorCode)[keyof typeof QueryErrorCode];
export class QueryError extends Error {
  readonly code: QueryErrorCode;
  constructor(code: QueryErrorCode, message?: string) {
    super(message ?? code);
    this.name = 'QueryError';
    this.code = code;
  }
}

export const MAX_PAGE = 1000;

async function allow(view: ReadView, req: Requester, patient: Uint8Array, category: string, now: number) {
  const d = await decideAccess(view.state, req.key, patient, category, req.purpose, now);
  if (!d.allowed) throw new AccessDenied(d.code, `${category}: ${d.code}`);
  const { allowed: _, ...basis } = d;
  return basis as AccessBasis;
}

function checkLimit(limit: number) {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE)
    throw new QueryError('BAD_LIMIT', `1..${MAX_PAGE}`);
}

export interface Reading {
  kind: number;
  value: number;
  unit: string;
  measuredAt: number;
  /**
   * Commit time and height of the block that carried it; omitted for research reads, like `source` and
   * `txId`: the block routes are public, so either one leads to the block, its transactions and their
   * signer (the device or clinician key).
   */
  committedAt?: number;
  height?: number;
  /** Device or clinician key that signed it; omitted for research reads (de-identification). */
  source?: Uint8Array;
  /** Transaction that carried it (proof of inclusion via the block's txRoot); omitted for research. */
  txId?: Uint8Array;
  /**
   * Research reads only, in place of `source`: the rank of the reading's signer, from 0 in key order,
   * among the signers of the patient's readings of this kind at the same measuredAt (with `pairedKind`,
   * of this kind or that one: see `Page.pairedWith`). It tells readings at one instant apart, and with
   * pairing tells which readings of the two kinds share a signer, without naming it. It is what the
   * research cursor `<t>.<n>` already counts, so it reveals nothing the order of the items does not;
   * it is the same on every page and every read until a reading at that same instant is added by a
   * signer whose key sorts before.
   */
  ordinal?: number;
}

export interface Page<T> {
  items: T[];
  /** Opaque; pass back to continue, null at the end. */
  next: string | null;
  access: AccessBasis;
  /** Research reads asked for `pairedKind` and allowed it: the items' ordinals rank over both kinds. */
  pairedWith?: number;
}

/**
 * A research cursor, `<t>.<n>` in canonical decimal (no sign, no leading zeros, safe integers): resume at
 * measuredAt t, skipping the n entries at t already returned. The other cursors are the hex index key of
 * the next entry, whose last 32 bytes are the signer's key: a research read must not hand that out
 * (de-identification), so it names a position by time and count only.
 */
const RESEARCH_CURSOR = /^(0|[1-9][0-9]{0,15})\.(0|[1-9][0-9]{0,15})$/;

function researchCursor(cursor: string, from: number, to: number): { at: number; skip: number } {
  const m = RESEARCH_CURSOR.exec(cursor);
  const at = m ? Number(m[1]) : Number.NaN;
  const skip = m ? Number(m[2]) : Number.NaN;
  // Inside the requested range, like a key cursor: it cannot widen the read.
  if (!Number.isSafeInteger(at) || !Number.isSafeInteger(skip) || at < from || at >= to) {
    throw new QueryError('BAD_CURSOR');
  }
  return { at, skip };
}

/** Signer keys (hex) of the readings of one kind at one instant, in key order. */
async function signersAt(view: ReadView, patient: Uint8Array, kind: number, t: number): Promise<string[]> {
  const out: string[] = [];
  // Unbounded on purpose: a rank must count every signer. One signer has at most one reading of a kind
  // at an instant (READING_DUPLICATE), so this is bounded by the keys allowed to write for the patient.
  const range = {
    gte: IndexKeys.readingFrom(patient, kind, t),
    lt: IndexKeys.readingFrom(patient, kind, t + 1),
  };
  for await (const { key } of view.index.range(range)) out.push(toHex(key.subarray(key.length - 32)));
  return out;
}

/**
 * Readings of one kind with from <= measuredAt < to, oldest first, paginated.
 *
 * `pairedKind` (research reads only; ignored otherwise, where `source` says it): rank each item's signer
 * over this kind's and `pairedKind`'s signers at its instant, so that a reading of each kind with the
 * same measuredAt and ordinal share a signer (blood pressure: systolic and diastolic halves of one
 * measurement). Only if the requester may read `pairedKind` too, since the ranks depend on its readings;
 * otherwise they rank over this kind alone and the page has no `pairedWith`.
 */
export async function readReadings(
  view: ReadView,
  req: Requester,
  q: {
    patient: Uint8Array;
    kind: number;
    from: number;
    to: number;
    limit?: number;
    cursor?: string | null;
    pairedKind?: number;
  },
  now: number,
): Promise<Page<Reading>> {
  if (!readingKindSpec(q.kind)) throw new QueryError('BAD_KIND');
  if (q.pairedKind !== undefined && (!readingKindSpec(q.pairedKind) || q.pairedKind === q.kind)) {
    throw new QueryError('BAD_KIND', 'pairedKind');
  }
  if (!Number.isSafeInteger(q.from) || !Number.isSafeInteger(q.to) || q.from < 0 || q.to < q.from) {
    throw new QueryError('BAD_RANGE');
  }
  const limit = q.limit ?? 100;
  checkLimit(limit);
  const access = await allow(view, req, q.patient, readingCategory(q.kind as ReadingKind), now);
  const research = req.purpose === Purpose.research;
  let paired: number | undefined;
  if (research && q.pairedKind !== undefined) {
    const cat = readingCategory(q.pairedKind as ReadingKind);
    const d = await decideAccess(view.state, req.key, q.patient, cat, req.purpose, now);
    if (d.allowed) paired = q.pairedKind;
  }
  let gte = IndexKeys.readingFrom(q.patient, q.kind, q.from);
  const lt = IndexKeys.readingFrom(q.patient, q.kind, q.to);
  // Research cursor position: entries at measuredAt `at` to pass over before returning any.
  let at = -1;
  let skip = 0;
  if (q.cursor && research) {
    ({ at, skip } = researchCursor(q.cursor, q.from, q.to));
    gte = IndexKeys.readingFrom(q.patient, q.kind, at);
  } else if (q.cursor) {
    let c: Uint8Array;
    try {
      c = fromHex(q.cursor);
    } catch {
      throw new QueryError('BAD_CURSOR');
    }
    // A cursor must stay inside the requested series and range: it cannot widen the read.
    if (Buffer.compare(c, gte) < 0 || Buffer.compare(c, lt) >= 0) throw new QueryError('BAD_CURSOR');
    gte = c;
  }
  // measuredAt sits right after the series prefix in every key of the series.
  const timeOffset = IndexKeys.readingSeries(q.patient, q.kind).length;
  const items: Reading[] = [];
  let next: string | null = null;
  let skipped = 0;
  // Research ordinals: the signers of this kind seen so far at instant `seenAt`. A research scan starts
  // at the first entry of an instant (`from`, or the cursor's t with its skipped entries), so every
  // signer before an item at its instant has passed here, whichever page the item falls on.
  let seenAt = -1;
  let seen: string[] = [];
  let pairedSigners: Set<string> | undefined;
  const scan = Math.min(limit + 1 + skip, Number.MAX_SAFE_INTEGER);
  for await (const { key, value } of view.index.range({ gte, lt, limit: scan })) {
    const measuredAt = readU64(key, timeOffset);
    const signer = research ? toHex(key.subarray(key.length - 32)) : '';
    if (research && measuredAt !== seenAt) {
      seenAt = measuredAt;
      seen = [];
      pairedSigners = undefined;
    }
    if (measuredAt === at && skipped < skip) {
      skipped++;
      seen.push(signer);
      continue;
    }
    if (items.length === limit) {
      if (research) {
        // Entries at this time already passed over: skipped here, or returned on this page.
        const before =
          (measuredAt === at ? skipped : 0) + items.filter((r) => r.measuredAt === measuredAt).length;
        next = `${measuredAt}.${before}`;
      } else {
        next = toHex(key);
      }
      break;
    }
    const f = decodeCanonical(value) as [number, string, number, number, number, Uint8Array, Uint8Array];
    const r: Reading = { kind: q.kind, value: f[0], unit: f[1], measuredAt: f[2] };
    if (!research) {
      r.committedAt = f[3];
      r.height = f[4];
      r.source = f[5];
      r.txId = f[6];
    } else {
      // Signers before this one at its instant: all of `seen` (key order), and with pairing those of
      // the paired kind that sort before it and are not already counted.
      let rank = seen.length;
      if (paired !== undefined) {
        pairedSigners ??= new Set(await signersAt(view, q.patient, paired, measuredAt));
        const mine = new Set(seen);
        for (const p of pairedSigners) if (p < signer && !mine.has(p)) rank++;
      }
      r.ordinal = rank;
      seen.push(signer);
    }
    items.push(r);
  }
  return { items, next, access, ...(paired !== undefined ? { pairedWith: paired } : {}) };
}

/**
 * An alert as a reader gets it. Research reads leave out what leads to a block or a person, as they do
 * for readings: the height and the block times it was raised and acknowledged at (a block's public
 * transaction ids and envelopes name their signers), and who acknowledged it.
 */
export type Alert = Omit<AlertRecord, 'height' | 'raisedAt' | 'ackBy' | 'ackAt'> &
  Partial<Pick<AlertRecord, 'height' | 'raisedAt' | 'ackBy' | 'ackAt'>>;

function deidentifiedAlert(a: AlertRecord): Alert {
  const { height: _h, raisedAt: _r, ackBy: _b, ackAt: _a, ...rest } = a;
  return rest;
}

/** Most alert records examined per call when filtering open alerts. */
export const MAX_ALERT_SCAN = 10_000;

/** The patient's alerts, newest first (category `alerts`), by sequence number: point reads only. */
export async function readAlerts(
  view: ReadView,
  req: Requester,
  q: { patient: Uint8Array; openOnly?: boolean; limit?: number; beforeSeq?: number },
  now: number,
): Promise<{ items: Alert[]; access: AccessBasis }> {
  const limit = q.limit ?? 100;
  checkLimit(limit);
  const access = await allow(view, req, q.patient, ALERTS_CATEGORY, now);
  const research = req.purpose === Purpose.research;
  const last = (await readRecord(view.state, Keys.alertSeq(q.patient), Codec.number)) ?? 0;
  const items: Alert[] = [];
  const start = q.beforeSeq !== undefined ? Math.min(last, q.beforeSeq - 1) : last;
  for (let seq = start; seq >= 1 && seq > start - MAX_ALERT_SCAN && items.length < limit; seq--) {
    const a = await readRecord(view.state, Keys.alert(q.patient, seq), Codec.alert);
    if (!a || (q.openOnly && a.status !== 0)) continue;
    items.push(research ? deidentifiedAlert(a) : a);
  }
  return { items, access };
}

export interface Consents {
  guardians: Uint8Array[];
  researchOptIn: boolean;
  /** Unexpired grants at `now`. */
  grants: GrantRecord[];
  /** Open, unexpired break-glass accesses at `now`. */
  emergencies: EmergencyRecord[];
}

async function patientOnly(view: ReadView, req: Requester, patient: Uint8Array) {
  const pg = await patientOrGuardian(view.state, patient, req.key);
  if (!pg.patient) throw new AccessDenied(DenyCode.UNKNOWN_PATIENT);
  if (!pg.as) throw new AccessDenied(DenyCode.PATIENT_ONLY);
  return pg.patient;
}

/** Consents, grants and break-glass accesses: the patient and guardians only. */
export async function readConsents(
  view: ReadView,
  req: Requester,
  patient: Uint8Array,
  now: number,
): Promise<Consents> {
  const p = await patientOnly(view, req, patient);
  const grants = liveGrants((await readRecord(view.state, Keys.grants(patient), Codec.grants)) ?? [], now);
  const emergencies = liveEmergencies(
    (await readRecord(view.state, Keys.emergencies(patient), Codec.emergencies)) ?? [],
    now,
  );
  return { guardians: p.guardians, researchOptIn: p.researchOptIn, grants, emergencies };
}

export interface AuditItem {
  height: number;
  position: number;
  event: string;
  actor: Uint8Array;
  categories: string[];
  purpose: number | null;
  at: number;
  txId: Uint8Array;
  detail: unknown;
}

/** The patient's audit trail (reads, grants, break-glass...), oldest first, paginated by height. */
export async function readAuditTrail(
  view: ReadView,
  req: Requester,
  q: { patient: Uint8Array; fromHeight?: number; limit?: number },
): Promise<{ items: AuditItem[]; nextHeight: number | null }> {
  await patientOnly(view, req, q.patient);
  const limit = q.limit ?? 100;
  checkLimit(limit);
  const fromHeight = q.fromHeight ?? 0;
  // A height goes into the index key as a u64, whose writer throws a RangeError for anything but a safe
  // non-negative integer: refuse it here, typed, so a caller's bad input is a 400 and not a 500.
  if (!Number.isSafeInteger(fromHeight) || fromHeight < 0)
    throw new QueryError('BAD_RANGE', `fromHeight: an integer 0..${Number.MAX_SAFE_INTEGER}`);
  const prefix = IndexKeys.auditPrefix(q.patient);
  const gte = IndexKeys.audit(q.patient, fromHeight, 0, 0);
  const items: AuditItem[] = [];
  let nextHeight: number | null = null;
  for await (const { key, value } of view.index.range({ gte, lt: prefixEnd(prefix) })) {
    const height = readU64(key, prefix.length);
    if (items.length >= limit && height !== items[items.length - 1]!.height) {
      // Pages end on a height boundary so `fromHeight` resumes without loss or repetition.
      nextHeight = height;
      break;
    }
    const f = decodeCanonical(value) as unknown[];
    items.push({
      height,
      position: new DataView(key.buffer, key.byteOffset + prefix.length + 8, 4).getUint32(0),
      event: f[0] as string,
      actor: f[1] as Uint8Array,
      categories: f[2] as string[],
      purpose: f[3] as number | null,
      at: f[4] as number,
      txId: f[5] as Uint8Array,
      detail: f[6],
    });
  }
  return { items, nextHeight };
}

/**
 * Something that gives the requester access to a patient now (ADR 0130): a grant naming them or their
 * organisation, their own open break-glass access, or a guardianship. The records are the state's.
 */
export type AccessToMe =
  | { patient: Uint8Array; via: 'grant'; grant: GrantRecord }
  | { patient: Uint8Array; via: 'emergency'; emergency: EmergencyRecord }
  | { patient: Uint8Array; via: 'guardian' };

/** A range of the requester's entries in the access index, in key order. */
interface AccessRange {
  kind: AccessKind;
  prefix: Uint8Array;
  gte: Uint8Array;
  lt: Uint8Array;
}

/**
 * The requester's access ranges in the index, in key order, as the access rule counts them now
 * (docs/state-machine.md, "Access rule"): a guardianship always; grants naming their key only for an
 * active clinician or researcher; grants to their organisation and their break-glass accesses only for
 * an active clinician. A grant or break-glass range starts after `now`, so nothing expired is scanned.
 */
function accessRanges(key: Uint8Array, actor: ActorRecord | undefined, now: number): AccessRange[] {
  const ranges: AccessRange[] = [];
  const timed = (kind: AccessKind, holder: Uint8Array | string) => {
    const prefix = IndexKeys.accessOf(kind, holder);
    ranges.push({ kind, prefix, gte: IndexKeys.accessFrom(kind, holder, now + 1), lt: prefixEnd(prefix) });
  };
  const active = isActive(actor) && (actor.role === Role.clinician || actor.role === Role.researcher);
  const clinician = active && actor!.role === Role.clinician;
  if (active) timed(AccessKind.keyGrant, key);
  if (clinician) timed(AccessKind.orgGrant, actor!.orgId);
  if (clinician) timed(AccessKind.emergency, key);
  const guardian = IndexKeys.accessOf(AccessKind.guardian, key);
  ranges.push({ kind: AccessKind.guardian, prefix: guardian, gte: guardian, lt: prefixEnd(guardian) });
  return ranges;
}

/**
 * The entry at `key` of range `r`, decided on the state now: the record it names must still be there,
 * unexpired and naming the requester, exactly as decideAccess would count it; a research grant counts
 * only while the patient is opted in (decideAccess refuses research reads otherwise).
 */
async function accessEntry(
  view: ReadView,
  req: Requester,
  actor: ActorRecord | undefined,
  r: AccessRange,
  key: Uint8Array,
  now: number,
): Promise<AccessToMe | undefined> {
  // <prefix><expiresAt:u64><patient:32><id:32, none for a guardianship>
  const o = r.prefix.length + 8;
  const patient = key.slice(o, o + 32);
  const id = key.subarray(o + 32);
  if (patient.length !== 32) return undefined;
  if (r.kind === AccessKind.guardian) {
    const p = await readRecord(view.state, Keys.patient(patient), Codec.patient);
    return p && isGuardian(p, req.key) ? { patient, via: 'guardian' } : undefined;
  }
  if (r.kind === AccessKind.emergency) {
    const es = (await readRecord(view.state, Keys.emergencies(patient), Codec.emergencies)) ?? [];
    const e = liveEmergencies(es, now).find(
      (x) => bytesEqual(x.accessId, id) && bytesEqual(x.clinician, req.key),
    );
    return e ? { patient, via: 'emergency', emergency: e } : undefined;
  }
  const grants = (await readRecord(view.state, Keys.grants(patient), Codec.grants)) ?? [];
  const g = liveGrants(grants, now).find((x) => bytesEqual(x.grantId, id) && grantNames(x, req.key, actor));
  if (!g) return undefined;
  if (g.purpose === Purpose.research) {
    const p = await readRecord(view.state, Keys.patient(patient), Codec.patient);
    if (!p?.researchOptIn) return undefined;
  }
  return { patient, via: 'grant', grant: g };
}

/**
 * "Grants to me" (ADR 0130): what gives the requester access to a patient now, from the access index,
 * each entry decided on the state record it names. Any signed caller may ask, about themself only: the
 * ranges scanned are the requester's own, and a cursor outside them is BAD_CURSOR. Ordered by kind
 * (grants to the key, to the organisation, break-glass accesses, guardianships), then by expiry. A page
 * examines at most `limit` entries, so it may hold fewer items (an entry the state no longer backs)
 * and still have a `next`; the patient themself is not listed.
 */
export async function readAccessToMe(
  view: ReadView,
  req: Requester,
  q: { limit?: number; cursor?: string | null },
  now: number,
): Promise<{ items: AccessToMe[]; next: string | null }> {
  const limit = q.limit ?? 100;
  checkLimit(limit);
  if (!Number.isSafeInteger(now) || now < 0) throw new QueryError('BAD_RANGE', 'now');
  const actor = await readRecord(view.state, Keys.actor(req.key), Codec.actor);
  const ranges = accessRanges(req.key, actor, now);
  let start = 0;
  let from: Uint8Array | undefined;
  if (q.cursor) {
    let c: Uint8Array;
    try {
      c = fromHex(q.cursor);
    } catch {
      throw new QueryError('BAD_CURSOR');
    }
    // Only inside one of the requester's own ranges: a cursor cannot widen the read to another holder.
    start = ranges.findIndex((r) => Buffer.compare(c, r.prefix) >= 0 && Buffer.compare(c, r.lt) < 0);
    if (start < 0) throw new QueryError('BAD_CURSOR');
    from = Buffer.compare(c, ranges[start]!.gte) > 0 ? c : ranges[start]!.gte;
  }
  const items: AccessToMe[] = [];
  let examined = 0;
  for (let i = start; i < ranges.length; i++) {
    const r = ranges[i]!;
    const gte = i === start && from ? from : r.gte;
    for await (const { key } of view.index.range({ gte, lt: r.lt, limit: limit + 1 - examined })) {
      if (examined === limit) return { items, next: toHex(key) };
      examined++;
      const item = await accessEntry(view, req, actor, r, key, now);
      if (item) items.push(item);
    }
  }
  return { items, next: null };
}

/** An alert as raised at execution, read back from the alert index (ADR 0130). */
export interface RaisedAlert {
  height: number;
  /** Position in its block of the transaction that raised it. */
  position: number;
  txId: Uint8Array;
  patient: Uint8Array;
  seq: number;
  cause: string;
  kind: number | null;
  value: number | null;
  news2Total: number | null;
  band: number | null;
  missing: string[];
  oldestAgeMs: number;
}

const RAISED = makeKey('raised');

/**
 * Where a replay of the alerts raised in blocks `fromHeight` to `toHeight` starts when it may send at
 * most `max` of them: `fromHeight` when they are no more, else the block after the newest one that
 * would have to be cut (whole blocks only: a client resumes from a block). Reads at most max + 1 keys.
 * Not access-checked, like readRaisedAlerts.
 */
export async function replayStart(view: ReadView, fromHeight: number, toHeight: number, max: number) {
  if (toHeight < fromHeight) return fromHeight;
  let n = 0;
  const range = {
    gte: IndexKeys.raisedFrom(fromHeight),
    lt: IndexKeys.raisedFrom(toHeight + 1),
    limit: max + 1,
    reverse: true,
  };
  for await (const { key } of view.index.range(range)) {
    if (++n > max) return readU64(key, RAISED.length) + 1;
  }
  return fromHeight;
}

/**
 * The alerts raised in blocks `fromHeight` to `toHeight`, oldest first (height, position, sequence),
 * at most `limit`, from `cursor` (the `next` of the page before) on. NOT access-checked: the events
 * route decides each for its subscriber and records the read, as it does a live alert.
 */
export async function readRaisedAlerts(
  view: ReadView,
  q: { fromHeight: number; toHeight: number; limit: number; cursor?: Uint8Array | null },
): Promise<{ items: RaisedAlert[]; next: Uint8Array | null }> {
  const items: RaisedAlert[] = [];
  if (q.toHeight < q.fromHeight) return { items, next: null };
  const gte = q.cursor ?? IndexKeys.raisedFrom(q.fromHeight);
  const range = { gte, lt: IndexKeys.raisedFrom(q.toHeight + 1), limit: q.limit + 1 };
  for await (const { key, value } of view.index.range(range)) {
    if (items.length === q.limit) return { items, next: key };
    const f = decodeCanonical(value) as unknown[];
    items.push({
      height: readU64(key, RAISED.length),
      position: new DataView(key.buffer, key.byteOffset + RAISED.length + 8, 4).getUint32(0),
      txId: f[0] as Uint8Array,
      patient: f[1] as Uint8Array,
      seq: f[2] as number,
      cause: f[3] as string,
      kind: f[4] as number | null,
      value: f[5] as number | null,
      news2Total: f[6] as number | null,
      band: f[7] as number | null,
      missing: f[8] as string[],
      oldestAgeMs: f[9] as number,
    });
  }
  return { items, next: null };
}

/** Whether a grant or break-glass access of the requester is the one a decision relied on (for the API). */
export function sameBasis(a: AccessBasis, b: AccessBasis): boolean {
  if (a.via !== b.via) return false;
  if (a.via === 'grant' && b.via === 'grant') return bytesEqual(a.grantId, b.grantId);
  if (a.via === 'emergency' && b.via === 'emergency') return bytesEqual(a.accessId, b.accessId);
  return true;
}

export interface EarlyWarningScore {
  total: number;
  band: number;
  subscores: Partial<Record<string, number>>;
  /** NEWS2 parameters with no value yet: the total is a lower bound. */
  missing: string[];
  /** Age at `now` of each value used, and of the oldest. */
  agesMs: Partial<Record<string, number>>;
  oldestAgeMs: number;
  spo2Scale2: boolean;
}

/**
 * NEWS2 over the patient's latest values at `now` (category `alerts`: it is the basis of alerts; it does
 * not reveal raw values). Same computation as execution, but aged to the caller's `now`.
 */
export async function readEarlyWarningScore(
  view: ReadView,
  req: Requester,
  patient: Uint8Array,
  now: number,
): Promise<EarlyWarningScore & { access: AccessBasis }> {
  const access = await allow(view, req, patient, ALERTS_CATEGORY, now);
  const latest = (await readRecord(view.state, Keys.latest(patient), Codec.latest)) ?? [];
  const policy = await readRecord(view.state, Keys.policy(patient), Codec.policy);
  const inputs: News2Inputs = {};
  for (const { param, kind } of NEWS2_PARAMETERS) {
    const v = latest[kind - 1];
    if (v) inputs[param] = v;
  }
  const spo2Scale2 = policy?.spo2Scale2 ?? false;
  return { ...computeNews2(inputs, now, { spo2Scale2 }), spo2Scale2, access };
}

/**
 * The recordAccess body the API submits (signed by its validator key) after serving a read, so the read
 * lands in the patient's on-chain audit trail.
 */
export function recordAccessBody(
  req: Requester,
  patient: Uint8Array,
  categories: string[],
  readAt: number,
): TxBody {
  return {
    type: 52,
    reader: req.key,
    patient,
    categories: [...new Set(categories)].sort(),
    purpose: req.purpose as Purpose,
    readAt,
  };
}
