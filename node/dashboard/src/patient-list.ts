// The patients a clinician chose (added by key or link, or whose alert reached them), for as long as
// this tab's session lasts; those who grant access are asked of the node instead ("grants to me", ADR
// 0130). Those keys identify health-data subjects and say whom this clinician looked at: they are kept
// in this tab's sessionStorage (gone when the tab closes, and removed at sign-out by closeSession), never
// in localStorage, which outlives both and is readable by the next user of a shared ward workstation.
// ADR 0124.
import { STORAGE_PREFIX } from './session.ts';

const HEX64 = /^[0-9a-f]{64}$/;

function storageKey(me: string): string {
  return `${STORAGE_PREFIX}patients.${me}`;
}

/** The list kept for `me` in this tab; a missing, malformed or unreadable one is empty. */
export function loadPatientList(me: string): string[] {
  try {
    const v = JSON.parse(sessionStorage.getItem(storageKey(me)) ?? '[]');
    return Array.isArray(v) ? v.filter((k) => typeof k === 'string' && HEX64.test(k)) : [];
  } catch {
    return [];
  }
}

export function savePatientList(me: string, keys: Iterable<string>): void {
  try {
    sessionStorage.setItem(storageKey(me), JSON.stringify([...keys]));
  } catch {
    // Storage blocked or full: the list then lasts as long as the page, which is all it loses.
  }
}
