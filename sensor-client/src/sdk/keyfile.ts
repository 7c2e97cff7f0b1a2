// Device key files (Node only). A key file holds the 32-byte Ed25519 seed as JSON
// {"version":1,"seed":"<hex>","publicKey":"<hex>"}. It is created with mode 0600 (O_EXCL: never
// overwrite an existing key, which would orphan the device's on-chain identity), and loading refuses a
// file that group or others can read or write, as OpenSSH does for private keys: a leaked seed lets
// anyone forge this patient's vital signs.

import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { signerFromSeed } from '@vigil/consensus/wire';
import { fromHex, toHex } from '../util/hex.ts';
import { SdkError } from './errors.ts';
import { fsyncDir } from './fsutil.ts';
import { generateSeed, SEED_BYTES } from './keys.ts';

export interface KeyFile {
  seed: Uint8Array;
  publicKey: Uint8Array;
}

/** Writes a new key file; fails (EEXIST) rather than overwrite. Returns the key. */
export function createKeyFile(path: string, seed: Uint8Array = generateSeed()): KeyFile {
  if (seed.length !== SEED_BYTES) throw new SdkError('KEY_FILE_INVALID', 'seed must be 32 bytes');
  const publicKey = signerFromSeed(seed).publicKey;
  const json = JSON.stringify({ version: 1, seed: toHex(seed), publicKey: toHex(publicKey) }) + '\n';
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    fchmodSync(fd, 0o600); // the umask can only remove bits, but be explicit
    writeSync(fd, json);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  fsyncDir(dirname(path));
  return { seed, publicKey };
}

/** Loads a key file, refusing one readable or writable by group/others (KEY_FILE_INSECURE). */
export function loadKeyFile(path: string): KeyFile {
  const fd = openSync(path, 'r');
  let text: string;
  try {
    // fstat on the open descriptor, not stat on the path: no window to swap the file in between.
    const st = fstatSync(fd);
    if ((st.mode & 0o077) !== 0) {
      throw new SdkError(
        'KEY_FILE_INSECURE',
        `${path} has mode ${(st.mode & 0o777).toString(8)}; run chmod 600 ${path}`,
      );
    }
    if (st.size > 4096) throw new SdkError('KEY_FILE_INVALID', `${path} is too large to be a key file`);
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  let j: { version?: unknown; seed?: unknown; publicKey?: unknown };
  try {
    j = JSON.parse(text);
  } catch {
    throw new SdkError('KEY_FILE_INVALID', `${path} is not JSON`);
  }
  if (j.version !== 1 || typeof j.seed !== 'string')
    throw new SdkError('KEY_FILE_INVALID', `${path}: bad format`);
  let seed: Uint8Array;
  try {
    seed = fromHex(j.seed);
  } catch {
    throw new SdkError('KEY_FILE_INVALID', `${path}: seed is not hex`);
  }
  if (seed.length !== SEED_BYTES) throw new SdkError('KEY_FILE_INVALID', `${path}: seed must be 32 bytes`);
  const publicKey = signerFromSeed(seed).publicKey;
  if (typeof j.publicKey === 'string' && j.publicKey !== toHex(publicKey)) {
    throw new SdkError('KEY_FILE_INVALID', `${path}: publicKey does not match the seed`);
  }
  return { seed, publicKey };
}

/** Loads the key at `path`, creating it first if it does not exist. */
export function loadOrCreateKeyFile(path: string, seed?: Uint8Array): KeyFile {
  try {
    return loadKeyFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    return createKeyFile(path, seed);
  }
}
