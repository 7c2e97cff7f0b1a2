// Mapping Vigil records to FHIR R4 resources (https://hl7.org/fhir/R4/). Pure functions: the routes
// gather the records (through the same query layer and access rule as the JSON API) and these build
// the resources. docs/fhir.md lists every mapping decision.
//
// Vital signs follow the R4 vital-signs profile (https://hl7.org/fhir/R4/observation-vitalsigns.html):
// category `vital-signs`, the LOINC codes below, UCUM units; effective = measurement time, issued =
// commit time (the block's timestamp). Blood pressure is the panel 85354-9 with systolic and diastolic
// as components, paired by measurement time and source (for research, which names no source, by the
// query layer's ordinal: ADR 0120).
import { toHex } from '@vigil/consensus/wire';
import type { Reading } from '../../state-machine/query.ts';

export const FHIR_VERSION = '4.0.1';
export const FHIR_JSON = 'application/fhir+json';
export const LOINC = 'http://loinc.org';
export const UCUM = 'http://unitsofmeasure.org';
export const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
export const ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';
export const VIGIL_KEY = 'urn:vigil:key';
export const VIGIL_TX = 'urn:vigil:tx';
export const VIGIL_BLOCK = 'urn:vigil:block';
export const VIGIL_EVENT = 'https://vigil.dev/fhir/CodeSystem/audit-event';
export const VIGIL_SCOPE = 'https://vigil.dev/fhir/CodeSystem/data-category';

export type Json = Record<string, unknown>;
type Coding = { system: string; code: string; display: string };

const loinc = (code: string, display: string): Coding => ({ system: LOINC, code, display });

/** One LOINC-coded observation per reading kind; kinds 3 and 4 are the blood pressure panel. */
export const VITAL_CODES: Record<number, { codings: Coding[]; text: string; unitDisplay: string }> = {
  1: { codings: [loinc('8867-4', 'Heart rate')], text: 'Heart rate', unitDisplay: 'beats/minute' },
  2: {
    codings: [
      loinc('59408-5', 'Oxygen saturation in Arterial blood by Pulse oximetry'),
      loinc('2708-6', 'Oxygen saturation in Arterial blood'),
    ],
    text: 'Oxygen saturation',
    unitDisplay: '%',
  },
  5: { codings: [loinc('8310-5', 'Body temperature')], text: 'Body temperature', unitDisplay: 'Cel' },
  6: {
    codings: [loinc('9279-1', 'Respiratory rate')],
    text: 'Respiratory rate',
    unitDisplay: 'breaths/minute',
  },
};
export const BP_PANEL = loinc('85354-9', 'Blood pressure panel with all children optional');
export const BP_SYSTOLIC = loinc('8480-6', 'Systolic blood pressure');
export const BP_DIASTOLIC = loinc('8462-4', 'Diastolic blood pressure');
const SCALE: Record<number, number> = { 1: 1, 2: 1, 3: 1, 4: 1, 5: 10, 6: 1 };

/** The kinds of the FHIR vital-signs searches (7 oxygen and 8 ACVPU have no vital-signs profile). */
export const FHIR_KINDS = [1, 2, 3, 4, 5, 6] as const;

/** Reading kinds a `code` search token selects (system|code or bare code); undefined if unknown. */
export function kindsForCode(token: string): number[] | undefined {
  const bar = token.lastIndexOf('|');
  const system = bar < 0 ? undefined : token.slice(0, bar);
  const code = bar < 0 ? token : token.slice(bar + 1);
  if (system !== undefined && system !== '' && system !== LOINC) return undefined;
  if (code === BP_PANEL.code || code === BP_SYSTOLIC.code || code === BP_DIASTOLIC.code) return [3, 4];
  for (const [kind, c] of Object.entries(VITAL_CODES)) {
    if (c.codings.some((x) => x.code === code)) return [Number(kind)];
  }
  return undefined;
}

export const iso = (ms: number) => new Date(ms).toISOString();

const VITAL_SIGNS_CATEGORY = [
  {
    coding: [
      {
        system: 'http://terminology.hl7.org/CodeSystem/observation-category',
        code: 'vital-signs',
        display: 'Vital Signs',
      },
    ],
    text: 'Vital Signs',
  },
];

function quantity(kind: number, value: number, unit: string) {
  const spec = VITAL_CODES[kind];
  const display = spec?.unitDisplay ?? (unit === 'mm[Hg]' ? 'mmHg' : unit);
  return { value: value / (SCALE[kind] ?? 1), unit: display, system: UCUM, code: unit };
}

/** Who produced a reading: a bound device or a clinician (recordObservation). */
export type SourceKind = 'Device' | 'Practitioner';

export interface ObservationInput {
  patientHex: string;
  /** One reading, or a systolic/diastolic pair (either may be missing) for the BP panel. */
  readings: Reading[];
  sourceKind?: SourceKind;
  /** Research: a blood-pressure half whose ordinal ranks within its own kind (see observationId). */
  unpairedHalf?: boolean;
}

/**
 * `k<kind>-<measuredAt>-<first 16 hex of the tx id>` (`bp-…` for a panel, named by its first reading).
 *
 * A research reading has no tx id (it would lead to the block and the signer): it is named by kind,
 * time and the query layer's ordinal, the signer's rank at that instant, `-r<ordinal>`. Two readings of
 * a kind at one instant have two signers, so two ordinals, and the ordinal is the same on every page.
 * A panel's halves share it when the query layer ranked over both kinds; a half ranked within its own
 * kind only (the other is not readable) is `-s<ordinal>` (systolic) or `-d<ordinal>`, since its rank may
 * equal another signer's rank in the other kind.
 */
export function observationId(r: Reading, unpairedHalf = false): string {
  const bp = r.kind === 3 || r.kind === 4;
  const kind = bp ? 'bp' : `k${r.kind}`;
  if (r.txId) return `${kind}-${r.measuredAt}-${toHex(r.txId).slice(0, 16)}`;
  if (r.ordinal === undefined) throw new Error('a reading with neither a tx id nor an ordinal');
  const tag = bp && unpairedHalf ? (r.kind === 3 ? 's' : 'd') : 'r';
  return `${kind}-${r.measuredAt}-${tag}${r.ordinal}`;
}

/** Parses an Observation id back to (kinds, measuredAt, tx id prefix); research ids name no tx. */
export function parseObservationId(
  id: string,
): { kinds: number[]; measuredAt: number; txPrefix: string } | undefined {
  const m = /^(bp|k([1-6]))-([0-9]{1,16})-([0-9a-f]{16})$/.exec(id);
  if (!m) return undefined;
  return { kinds: m[1] === 'bp' ? [3, 4] : [Number(m[2])], measuredAt: Number(m[3]), txPrefix: m[4]! };
}

/** Whether `id` is the form observationId gives a research reading. */
export function isResearchObservationId(id: string): boolean {
  return /^(bp-[0-9]{1,16}-[rsd]|k[1-6]-[0-9]{1,16}-r)(0|[1-9][0-9]{0,15})$/.test(id);
}

export function observation(o: ObservationInput): Json {
  const first = o.readings[0]!;
  const base: Json = {
    resourceType: 'Observation',
    id: observationId(first, o.unpairedHalf),
    meta: { profile: ['http://hl7.org/fhir/StructureDefinition/vitalsigns'] },
    status: 'final',
    category: VITAL_SIGNS_CATEGORY,
    subject: { reference: `Patient/${o.patientHex}` },
    effectiveDateTime: iso(first.measuredAt),
    // Research reads carry no commit time (it names the block, hence the signer): no `issued` then.
    ...(first.committedAt !== undefined
      ? { issued: iso(Math.max(...o.readings.map((r) => r.committedAt ?? 0))) }
      : {}),
  };
  if (first.source && o.sourceKind === 'Device') base.device = { reference: `Device/${toHex(first.source)}` };
  if (first.source && o.sourceKind === 'Practitioner')
    base.performer = [{ reference: `Practitioner/${toHex(first.source)}` }];
  if (first.kind === 3 || first.kind === 4) {
    base.code = { coding: [BP_PANEL], text: 'Blood pressure' };
    base.component = o.readings.map((r) => ({
      code: { coding: [r.kind === 3 ? BP_SYSTOLIC : BP_DIASTOLIC] },
      valueQuantity: quantity(r.kind, r.value, r.unit),
    }));
    return base;
  }
  const spec = VITAL_CODES[first.kind]!;
  base.code = { coding: spec.codings, text: spec.text };
  base.valueQuantity = quantity(first.kind, first.value, first.unit);
  return base;
}

export function provenance(o: {
  observationId: string;
  reading: Reading;
  sourceKind: SourceKind;
  chainId: string;
}): Json {
  const r = o.reading;
  // The route builds one only for a reading found by its tx id, which research reads omit together
  // with the commit time and height.
  if (r.committedAt === undefined || r.height === undefined)
    throw new Error('provenance of a de-identified reading');
  const who = r.source ? { reference: `${o.sourceKind}/${toHex(r.source)}` } : { display: 'unknown source' };
  return {
    resourceType: 'Provenance',
    id: `prov-${o.observationId}`,
    target: [{ reference: `Observation/${o.observationId}` }],
    occurredDateTime: iso(r.measuredAt),
    recorded: iso(r.committedAt),
    agent: [
      {
        type: {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type',
              code: o.sourceKind === 'Device' ? 'performer' : 'author',
            },
          ],
        },
        who,
      },
      {
        type: {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type',
              code: 'custodian',
            },
          ],
        },
        who: { display: `Vigil chain ${o.chainId}` },
      },
    ],
    entity: [
      { role: 'source', what: { identifier: { system: VIGIL_TX, value: r.txId ? toHex(r.txId) : '' } } },
      { role: 'source', what: { identifier: { system: VIGIL_BLOCK, value: String(r.height) } } },
    ],
  };
}

const PURPOSE_CODES: Record<number, Coding> = {
  1: { system: ACT_REASON, code: 'TREAT', display: 'treatment' },
  2: { system: ACT_REASON, code: 'HRESCH', display: 'healthcare research' },
  3: { system: ACT_REASON, code: 'ETREAT', display: 'Emergency Treatment' },
};

export interface GrantInput {
  grantId: string;
  grantee: { kind: 1; key: string } | { kind: 2; orgId: string };
  scopes: string[];
  purpose: number;
  expiresAt: number;
  grantedBy: string;
  grantedAt: number;
}

export function consent(patientHex: string, g: GrantInput): Json {
  const actor =
    g.grantee.kind === 1
      ? { identifier: { system: VIGIL_KEY, value: g.grantee.key } }
      : { reference: `Organization/${g.grantee.orgId}` };
  return {
    resourceType: 'Consent',
    id: g.grantId,
    status: 'active',
    scope: {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/consentscope',
          code: 'patient-privacy',
          display: 'Privacy Consent',
        },
      ],
    },
    category: [{ coding: [{ system: LOINC, code: '59284-0', display: 'Patient Consent' }] }],
    patient: { reference: `Patient/${patientHex}` },
    dateTime: iso(g.grantedAt),
    performer: [{ identifier: { system: VIGIL_KEY, value: g.grantedBy } }],
    policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
    provision: {
      type: 'permit',
      period: { start: iso(g.grantedAt), end: iso(g.expiresAt) },
      actor: [
        {
          role: {
            coding: [
              {
                system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
                code: 'IRCP',
                display: 'information recipient',
              },
            ],
          },
          reference: actor,
        },
      ],
      action: [
        { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentaction', code: 'access' }] },
      ],
      purpose: [PURPOSE_CODES[g.purpose] ?? PURPOSE_CODES[1]!],
      code: g.scopes.map((s) => ({ coding: [{ system: VIGIL_SCOPE, code: s }] })),
    },
  };
}

export interface AuditInput {
  height: number;
  position: number;
  sub: number;
  event: string;
  actorHex: string;
  categories: string[];
  purpose: number | null;
  at: number;
  txIdHex: string;
  /** Recording node (reads), or [accessId, reasonCode, reason, expiresAt] for break-glass. */
  detail: unknown;
}

const DCM_TYPES = {
  patientRecord: { system: DCM, code: '110110', display: 'Patient Record' },
  securityAlert: { system: DCM, code: '110113', display: 'Security Alert' },
  emergencyStarted: { system: DCM, code: '110127', display: 'Emergency Override Started' },
  emergencyStopped: { system: DCM, code: '110138', display: 'Emergency Override Stopped' },
} as const;

const ACTIONS: Record<string, 'C' | 'R' | 'U' | 'D' | 'E'> = {
  read: 'R',
  observation: 'C',
  grant: 'C',
  revoke: 'D',
  emergencyOpened: 'E',
  emergencyClosed: 'E',
};

export function auditEvent(patientHex: string, a: AuditInput, chainId: string): Json {
  const emergency = a.event === 'emergencyOpened' || a.event === 'emergencyClosed';
  const agents: Json[] = [
    {
      type: {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/extra-security-role-type',
            code: 'humanuser',
            display: 'human user',
          },
        ],
      },
      who: { identifier: { system: VIGIL_KEY, value: a.actorHex } },
      requestor: true,
    },
  ];
  if (a.event === 'read' && a.detail instanceof Uint8Array) {
    agents.push({ who: { identifier: { system: VIGIL_KEY, value: toHex(a.detail) } }, requestor: false });
  }
  const purposes: Coding[] = [];
  if (emergency) {
    purposes.push(PURPOSE_CODES[3]!);
    const d = a.detail as unknown[];
    const code = Array.isArray(d) && typeof d[1] === 'string' ? d[1] : undefined;
    if (code && code !== 'ETREAT') purposes.push({ system: ACT_REASON, code, display: code });
  } else if (a.purpose !== null && PURPOSE_CODES[a.purpose]) {
    purposes.push(PURPOSE_CODES[a.purpose]!);
  }
  const r: Json = {
    resourceType: 'AuditEvent',
    id: `${a.height}-${a.position}-${a.sub}`,
    type: emergency ? DCM_TYPES.securityAlert : DCM_TYPES.patientRecord,
    subtype: [
      ...(a.event === 'emergencyOpened' ? [DCM_TYPES.emergencyStarted] : []),
      ...(a.event === 'emergencyClosed' ? [DCM_TYPES.emergencyStopped] : []),
      { system: VIGIL_EVENT, code: a.event, display: a.event },
    ],
    action: ACTIONS[a.event] ?? 'U',
    recorded: iso(a.at),
    outcome: '0',
    agent: agents,
    source: { site: chainId, observer: { display: `Vigil chain ${chainId}` } },
    entity: [
      { what: { reference: `Patient/${patientHex}` } },
      { what: { identifier: { system: VIGIL_TX, value: a.txIdHex } } },
      ...a.categories.map((c) => ({ what: { identifier: { system: VIGIL_SCOPE, value: c } } })),
    ],
  };
  if (purposes.length > 0) r.purposeOfEvent = [{ coding: purposes }];
  return r;
}

export function bundle(selfUrl: string, resources: Json[], base: string, next?: string): Json {
  const link = [{ relation: 'self', url: selfUrl }];
  if (next) link.push({ relation: 'next', url: next });
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    timestamp: iso(Date.now()),
    link,
    entry: resources.map((r) => ({
      fullUrl: `${base}/${r.resourceType as string}/${r.id as string}`,
      resource: r,
      search: { mode: 'match' },
    })),
  };
}

export function capabilityStatement(base: string, version: string): Json {
  const search = (type: string, params: [string, string, string][]) => ({
    type,
    interaction: [{ code: 'search-type' }],
    searchParam: params.map(([name, t, documentation]) => ({ name, type: t, documentation })),
  });
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: iso(Date.now()),
    publisher: 'Vigil',
    kind: 'instance',
    software: { name: 'Vigil node', version },
    implementation: { description: 'Vigil read-only FHIR R4 facade', url: base },
    fhirVersion: FHIR_VERSION,
    format: ['json'],
    rest: [
      {
        mode: 'server',
        security: {
          description:
            'Every request is signed with the caller ed25519 key (x-vigil-* headers, docs/api.md); access is decided by the chain access rule and each read is recorded on chain.',
        },
        resource: [
          search('Observation', [
            ['patient', 'reference', 'Patient/<public key hex>, required'],
            ['code', 'token', 'LOINC vital-sign codes, comma separated'],
            ['date', 'date', 'effective time; prefixes eq, ge, gt, le, lt; repeatable'],
            ['_count', 'number', 'page size, 1..1000'],
          ]),
          search('Consent', [['patient', 'reference', 'required; patient or guardian only']]),
          search('AuditEvent', [
            ['patient', 'reference', 'required; patient or guardian only'],
            ['_count', 'number', 'page size'],
          ]),
          search('Provenance', [
            ['patient', 'reference', 'required'],
            ['target', 'reference', 'Observation/<id>, required'],
          ]),
        ],
      },
    ],
  };
}

export function operationOutcome(code: string, fhirCode: string, text: string): Json {
  return {
    resourceType: 'OperationOutcome',
    issue: [
      {
        severity: 'error',
        code: fhirCode,
        details: { coding: [{ system: 'https://vigil.dev/problems', code }], text },
      },
    ],
  };
}
