// The CLI's state-machine commands: each builds one typed transaction body (consensus/src/wire/bodies)
// from command-line options. Signing, nonces and submission are done by vigil.ts.
import { READING_KINDS, readingKindSpec } from '@vigil/consensus/vitals/index.ts';
import type { ReadingEntry, Threshold, TxBody } from '@vigil/consensus/wire/bodies/index.ts';
import { duration, int, key, purpose, required, UsageError } from './args.ts';

export type Values = Record<string, string | boolean | string[] | undefined>;

const s = (v: Values, k: string) => v[k] as string | undefined;
const list = (v: Values, k: string) => (v[k] as string[] | undefined) ?? [];

/** A reading kind by name (`heartRate`) or number. */
function kindOf(name: string): number {
  const n = Number(name);
  if (Number.isInteger(n) && readingKindSpec(n)) return n;
  for (const k of READING_KINDS) if (readingKindSpec(k)!.name === name) return k;
  throw new UsageError(
    `unknown reading kind ${name}: one of ${READING_KINDS.map((k) => readingKindSpec(k)!.name).join(', ')}`,
  );
}

/** Physical value -> wire integer (temperature 36.5 -> 365). */
function wire(kind: number, value: string, what: string): number {
  const x = Number(value);
  if (!Number.isFinite(x)) throw new UsageError(`${what}: ${value} is not a number`);
  return Math.round(x * readingKindSpec(kind)!.scale);
}

/** `--reading heartRate=72[@ms]`, repeated. */
function readings(v: Values, now: number): ReadingEntry[] {
  const rs = list(v, 'reading').map((r) => {
    const m = /^([A-Za-z0-9]+)=(-?[0-9.]+)(?:@(\d+))?$/.exec(r);
    if (!m) throw new UsageError(`--reading ${r}: expected kind=value[@measuredAtMs], e.g. heartRate=72`);
    const kind = kindOf(m[1]!);
    return {
      kind,
      value: wire(kind, m[2]!, `--reading ${r}`),
      unit: readingKindSpec(kind)!.unit,
      measuredAt: m[3] ? Number(m[3]) : now,
    };
  });
  if (rs.length === 0) throw new UsageError('at least one --reading kind=value is required');
  return rs;
}

/** `--threshold heartRate=45..120`, repeated. */
function thresholds(v: Values): Threshold[] {
  return list(v, 'threshold').map((x) => {
    const m = /^([A-Za-z0-9]+)=(-?[0-9.]+)\.\.(-?[0-9.]+)$/.exec(x);
    if (!m) throw new UsageError(`--threshold ${x}: expected kind=low..high, e.g. heartRate=45..120`);
    const kind = kindOf(m[1]!);
    return { kind, low: wire(kind, m[2]!, x), high: wire(kind, m[3]!, x) };
  });
}

function hex32(v: string | undefined, name: string): Uint8Array {
  return key(v, name);
}

/** Commands that submit a transaction, their usage line, and how to build the body. */
export const ACTIONS: Record<
  string,
  { usage: string; body: (v: Values, self: Uint8Array, now: number) => TxBody }
> = {
  'enrol-clinician': {
    usage: '--public-key HEX --licence ID',
    body: (v) => ({
      type: 10,
      publicKey: key(s(v, 'public-key'), 'public-key'),
      licenceId: required(s(v, 'licence'), 'licence'),
    }),
  },
  'enrol-researcher': {
    usage: '--public-key HEX --study ID',
    body: (v) => ({
      type: 11,
      publicKey: key(s(v, 'public-key'), 'public-key'),
      studyId: required(s(v, 'study'), 'study'),
    }),
  },
  suspend: {
    usage: '--public-key HEX [--reason CODE]',
    body: (v) => ({
      type: 12,
      publicKey: key(s(v, 'public-key'), 'public-key'),
      reasonCode: s(v, 'reason') ?? 'ADMIN',
    }),
  },
  reinstate: {
    usage: '--public-key HEX',
    body: (v) => ({ type: 13, publicKey: key(s(v, 'public-key'), 'public-key') }),
  },
  register: {
    usage: '[--patient HEX]   (default: the signing key registers itself)',
    body: (v, self) => ({ type: 20, patient: s(v, 'patient') ? hex32(s(v, 'patient'), 'patient') : self }),
  },
  'appoint-guardian': {
    usage: '--guardian HEX [--patient HEX]',
    body: (v, self) => ({
      type: 21,
      patient: s(v, 'patient') ? hex32(s(v, 'patient'), 'patient') : self,
      guardian: key(s(v, 'guardian'), 'guardian'),
    }),
  },
  'remove-guardian': {
    usage: '--guardian HEX [--patient HEX]',
    body: (v, self) => ({
      type: 22,
      patient: s(v, 'patient') ? hex32(s(v, 'patient'), 'patient') : self,
      guardian: key(s(v, 'guardian'), 'guardian'),
    }),
  },
  'bind-device': {
    usage: '--device HEX --patient HEX [--valid-for 365d] [--valid-from MS]',
    body: (v, _self, now) => {
      const from = int(s(v, 'valid-from'), 'valid-from', now - 60_000);
      return {
        type: 30,
        device: key(s(v, 'device'), 'device'),
        patient: key(s(v, 'patient'), 'patient'),
        validFrom: from,
        validUntil: from + duration(s(v, 'valid-for'), 'valid-for', 365 * 86_400_000),
      };
    },
  },
  'rotate-device': {
    usage: '--device HEX --new-key HEX [--overlap 1h]',
    body: (v) => ({
      type: 31,
      device: key(s(v, 'device'), 'device'),
      newKey: key(s(v, 'new-key'), 'new-key'),
      overlapMs: duration(s(v, 'overlap'), 'overlap', 3_600_000),
    }),
  },
  'suspend-device': {
    usage: '--device HEX [--resume]',
    body: (v) => ({ type: 32, device: key(s(v, 'device'), 'device'), suspended: v.resume !== true }),
  },
  'revoke-device': {
    usage: '--device HEX',
    body: (v) => ({ type: 33, device: key(s(v, 'device'), 'device') }),
  },
  grant: {
    usage:
      '--patient HEX (--to HEX | --org ID) --scopes vitals.*,alerts [--purpose treatment] [--expires-in 30d]',
    body: (v, _self, now) => {
      const to = s(v, 'to');
      const org = s(v, 'org');
      if ((to === undefined) === (org === undefined))
        throw new UsageError('give exactly one of --to HEX or --org ID');
      return {
        type: 40,
        patient: key(s(v, 'patient'), 'patient'),
        grantee: to !== undefined ? { kind: 1, key: key(to, 'to') } : { kind: 2, orgId: org! },
        scopes: required(s(v, 'scopes'), 'scopes').split(','),
        purpose: purpose(s(v, 'purpose')),
        expiresAt: now + duration(s(v, 'expires-in'), 'expires-in', 30 * 86_400_000),
      };
    },
  },
  revoke: {
    usage: '--patient HEX --grant ID',
    body: (v) => ({
      type: 41,
      patient: key(s(v, 'patient'), 'patient'),
      grantId: key(s(v, 'grant'), 'grant'),
    }),
  },
  emergency: {
    usage: '--patient HEX --reason TEXT [--reason-code ETREAT|BTG|ERTREAT] [--duration 1h]',
    body: (v) => ({
      type: 42,
      patient: key(s(v, 'patient'), 'patient'),
      reasonCode: s(v, 'reason-code') ?? 'ETREAT',
      reason: required(s(v, 'reason'), 'reason'),
      durationMs: duration(s(v, 'duration'), 'duration', 3_600_000),
    }),
  },
  'close-emergency': {
    usage: '--patient HEX --access ID',
    body: (v) => ({
      type: 43,
      patient: key(s(v, 'patient'), 'patient'),
      accessId: key(s(v, 'access'), 'access'),
    }),
  },
  'research-consent': {
    usage: '[--patient HEX] (--opt-in | --opt-out)',
    body: (v, self) => {
      if ((v['opt-in'] === true) === (v['opt-out'] === true))
        throw new UsageError('give exactly one of --opt-in or --opt-out');
      return {
        type: 44,
        patient: s(v, 'patient') ? hex32(s(v, 'patient'), 'patient') : self,
        optIn: v['opt-in'] === true,
      };
    },
  },
  'submit-readings': {
    usage: '--patient HEX --reading heartRate=72[@ms] ...   (signed by a device key)',
    body: (v, _self, now) => ({
      type: 50,
      patient: key(s(v, 'patient'), 'patient'),
      readings: readings(v, now),
    }),
  },
  observe: {
    usage: '--patient HEX --reading consciousness=0 ...   (a clinician records an observation)',
    body: (v, _self, now) => ({
      type: 51,
      patient: key(s(v, 'patient'), 'patient'),
      readings: readings(v, now),
    }),
  },
  'set-policy': {
    usage: '--patient HEX [--threshold heartRate=45..120 ...] [--spo2-scale2]',
    body: (v) => ({
      type: 60,
      patient: key(s(v, 'patient'), 'patient'),
      thresholds: thresholds(v),
      spo2Scale2: v['spo2-scale2'] === true,
    }),
  },
  'ack-alert': {
    usage: '--patient HEX --seq N',
    body: (v) => ({ type: 61, patient: key(s(v, 'patient'), 'patient'), alertSeq: int(s(v, 'seq'), 'seq') }),
  },
  'propose-org': {
    usage: '--org ID --name NAME --admin HEX ...   (governance: register an organisation)',
    body: (v) => ({
      type: 1,
      proposal: {
        action: 1,
        orgId: required(s(v, 'org'), 'org'),
        name: required(s(v, 'name'), 'name'),
        admins: list(v, 'admin').map((a) => key(a, 'admin')),
      },
    }),
  },
  'propose-add-validator': {
    usage: '--public-key HEX --org ID',
    body: (v) => ({
      type: 1,
      proposal: {
        action: 2,
        publicKey: key(s(v, 'public-key'), 'public-key'),
        orgId: required(s(v, 'org'), 'org'),
      },
    }),
  },
  'propose-remove-validator': {
    usage: '--public-key HEX',
    body: (v) => ({ type: 1, proposal: { action: 3, publicKey: key(s(v, 'public-key'), 'public-key') } }),
  },
  'propose-parameter': {
    usage: '--name PARAM --value N',
    body: (v) => ({
      type: 1,
      proposal: { action: 4, name: required(s(v, 'name'), 'name'), value: int(s(v, 'value'), 'value') },
    }),
  },
  approve: {
    usage: '--proposal ID   (governance vote)',
    body: (v) => ({ type: 2, proposalId: key(s(v, 'proposal'), 'proposal') }),
  },
};
