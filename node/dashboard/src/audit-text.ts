// The patient's audit trail (docs/api.md, GET /v1/patients/{patient}/audit) in plain language.
import { categoryList, PURPOSE_LABELS, shortKey } from './format.ts';

export interface AuditItem {
  height: number;
  position: number;
  event: string;
  actor: string;
  categories: string[];
  purpose: number | null;
  at: number;
  txId: string;
  detail: unknown;
}

/** One audit entry as a sentence. */
export function describeAudit(i: AuditItem, me: string): string {
  const who = i.actor === me ? 'You' : `${shortKey(i.actor)}`;
  const what = i.categories.length > 0 ? categoryList(i.categories) : 'your record';
  const why = i.purpose ? ` for ${PURPOSE_LABELS[i.purpose] ?? i.purpose}` : '';
  switch (i.event) {
    case 'read':
      return `${who} looked at ${what}${why}.`;
    case 'grant':
      return `${who} granted access to ${what}${why}.`;
    case 'revoke':
      return `${who} revoked an access grant.`;
    case 'emergencyOpened':
      return `${who} opened EMERGENCY (break-glass) access to your record.`;
    case 'emergencyClosed':
      return `${who} closed emergency access.`;
    case 'observation':
      return `${who} recorded an observation (${what}).`;
    case 'alertPolicy':
      return `${who} changed your alert thresholds.`;
    case 'alertAcknowledged':
      return `${who} acknowledged an alert.`;
    case 'researchConsent':
      return `${who} changed your research consent.`;
    case 'guardianAppointed':
      return `${who} appointed a guardian.`;
    case 'guardianRemoved':
      return `${who} removed a guardian.`;
    case 'deviceBound':
      return `${who} bound a device to your record.`;
    case 'deviceRotated':
      return `${who} rotated a device key.`;
    case 'deviceSuspended':
      return `${who} suspended or resumed a device.`;
    case 'deviceRevoked':
      return `${who} revoked a device.`;
    default:
      return `${who}: ${i.event}.`;
  }
}
