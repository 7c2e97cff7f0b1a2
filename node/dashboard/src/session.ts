// Who is signed in. The user's ed25519 seed is the whole identity; it never leaves the browser: it is
// held in memory and, so that a reload of the same tab keeps the user signed in, in sessionStorage
// (per tab, cleared when the tab closes, never sent anywhere). Signing out clears both. ADR 0101.
// Everything else the dashboard keeps in Web Storage names patients (a clinician's list): it lives in
// this tab's sessionStorage too, under the same `vigil.` prefix, and a session's end removes all of it
// from both storages, so that the next user of a shared workstation learns nothing of whom the last
// one looked at. ADR 0124.
import { fromHex, type Signer, signerFromSeed, toHex } from '@vigil/consensus/wire';

export type Role = 'clinician' | 'patient' | 'operator';
export const ROLES: readonly Role[] = ['clinician', 'patient', 'operator'];

export interface Session {
  readonly signer: Signer;
  readonly key: string;
  readonly seedHex: string;
  role: Role;
}

/** The key file written by sensor-client (`{"version":1,"seed","publicKey"}`, hex). */
export interface KeyFile {
  version: 1;
  seed: string;
  publicKey: string;
}

export class KeyFileError extends Error {
  readonly code: 'KEYFILE_JSON' | 'KEYFILE_SHAPE' | 'KEYFILE_MISMATCH';
  constructor(code: KeyFileError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

const HEX64 = /^[0-9a-f]{64}$/;
const MAX_KEYFILE_CHARS = 4096;
const STORAGE = 'vigil.session';
/** Every key the dashboard writes to Web Storage starts with this; nothing else on the origin does. */
export const STORAGE_PREFIX = 'vigil.';

/** Parses and checks a key file: the public key must be the one the seed derives. */
export function parseKeyFile(text: string): { seed: Uint8Array; publicKey: string } {
  if (text.length > MAX_KEYFILE_CHARS)
    throw new KeyFileError('KEYFILE_SHAPE', 'This file is too large to be a key file.');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new KeyFileError('KEYFILE_JSON', 'This file is not JSON.');
  }
  const o = v as Partial<KeyFile> | null;
  if (!o || typeof o !== 'object' || o.version !== 1 || typeof o.seed !== 'string' || !HEX64.test(o.seed)) {
    throw new KeyFileError(
      'KEYFILE_SHAPE',
      'Not a Vigil key file: expected {"version":1,"seed","publicKey"}.',
    );
  }
  const seed = fromHex(o.seed);
  const publicKey = toHex(signerFromSeed(seed).publicKey);
  if (o.publicKey !== undefined && o.publicKey !== publicKey) {
    throw new KeyFileError('KEYFILE_MISMATCH', 'The public key in this file does not belong to its seed.');
  }
  return { seed, publicKey };
}

export function keyFileFor(seed: Uint8Array): string {
  const kf: KeyFile = { version: 1, seed: toHex(seed), publicKey: toHex(signerFromSeed(seed).publicKey) };
  return `${JSON.stringify(kf)}\n`;
}

export function newSeed(): Uint8Array {
  const seed = new Uint8Array(32);
  globalThis.crypto.getRandomValues(seed);
  return seed;
}

export function openSession(seed: Uint8Array, role: Role): Session {
  const signer = signerFromSeed(seed);
  const s: Session = { signer, key: toHex(signer.publicKey), seedHex: toHex(seed), role };
  sessionStorage.setItem(STORAGE, JSON.stringify({ seed: s.seedHex, role }));
  return s;
}

export function restoreSession(): Session | undefined {
  try {
    const raw = sessionStorage.getItem(STORAGE);
    if (!raw) return undefined;
    const o = JSON.parse(raw) as { seed?: string; role?: Role };
    if (!o.seed || !HEX64.test(o.seed) || !ROLES.includes(o.role as Role)) return undefined;
    const signer = signerFromSeed(fromHex(o.seed));
    return { signer, key: toHex(signer.publicKey), seedHex: o.seed, role: o.role as Role };
  } catch {
    return undefined;
  }
}

export function setRole(s: Session, role: Role): void {
  s.role = role;
  sessionStorage.setItem(STORAGE, JSON.stringify({ seed: s.seedHex, role }));
}

/**
 * Ends the session: removes the seed and everything else the dashboard stored, from this tab's
 * sessionStorage and from localStorage (where earlier versions kept a clinician's list of patients, which
 * outlived the tab and the sign-out). Keys of other apps on the origin are left alone.
 */
export function closeSession(): void {
  wipeStoredData();
}

/** Removes every `vigil.` key from both Web Storages; a storage the browser refuses is skipped. */
export function wipeStoredData(): void {
  for (const store of [webStorage('sessionStorage'), webStorage('localStorage')]) if (store) wipe(store);
}

/**
 * Removes what earlier versions left in localStorage (a clinician's list of patients, kept across
 * sign-outs and tab closes); the dashboard keeps nothing there now. Run at every start, signed in or
 * not: the list may be another clinician's.
 */
export function wipeLegacyData(): void {
  const store = webStorage('localStorage');
  if (store) wipe(store);
}

function wipe(store: Storage): void {
  const mine: string[] = [];
  for (let i = 0; i < store.length; i++) {
    const k = store.key(i);
    if (k?.startsWith(STORAGE_PREFIX)) mine.push(k);
  }
  for (const k of mine) store.removeItem(k);
}

function webStorage(name: 'sessionStorage' | 'localStorage'): Storage | undefined {
  // Reading the property throws when the browser blocks storage for the origin (a privacy setting):
  // nothing was stored there then.
  try {
    return globalThis[name] ?? undefined;
  } catch {
    return undefined;
  }
}
