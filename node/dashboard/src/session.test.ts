// Key files: the sensor-client format is accepted, a seed/public-key mismatch and malformed files are
// refused with typed errors, and a created key round-trips through its own key file. Signing out leaves
// nothing in Web Storage that names a patient (ADR 0124).
import { signerFromSeed, toHex } from '@vigil/consensus/wire';
import t from 'tap';
import {
  closeSession,
  KeyFileError,
  keyFileFor,
  openSession,
  parseKeyFile,
  restoreSession,
  wipeLegacyData,
} from './session.ts';
import { browserStorage } from './testing/web-storage.ts';

const seed = new Uint8Array(32).fill(1);
const pub = '8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c';

t.test('the sensor-client key file format', async (t) => {
  t.equal(toHex(signerFromSeed(seed).publicKey), pub);
  const text = keyFileFor(seed);
  t.same(JSON.parse(text), { version: 1, seed: '01'.repeat(32), publicKey: pub });
  const parsed = parseKeyFile(text);
  t.equal(parsed.publicKey, pub);
  t.same([...parsed.seed], [...seed]);
  // publicKey is optional (derivable), but when present it must match.
  t.equal(parseKeyFile(JSON.stringify({ version: 1, seed: '01'.repeat(32) })).publicKey, pub);
});

t.test('hostile or broken files: typed errors', async (t) => {
  const code = (text: string) => {
    try {
      parseKeyFile(text);
      return 'accepted';
    } catch (e) {
      return e instanceof KeyFileError ? e.code : `untyped ${String(e)}`;
    }
  };
  t.equal(code('not json'), 'KEYFILE_JSON');
  t.equal(code('null'), 'KEYFILE_SHAPE');
  t.equal(code('[]'), 'KEYFILE_SHAPE');
  t.equal(code(JSON.stringify({ version: 2, seed: '01'.repeat(32) })), 'KEYFILE_SHAPE');
  t.equal(code(JSON.stringify({ version: 1, seed: '01'.repeat(31) })), 'KEYFILE_SHAPE');
  t.equal(code(JSON.stringify({ version: 1, seed: 'ZZ'.repeat(32) })), 'KEYFILE_SHAPE');
  t.equal(
    code(JSON.stringify({ version: 1, seed: '01'.repeat(32), publicKey: '00'.repeat(32) })),
    'KEYFILE_MISMATCH',
  );
  t.equal(code(' '.repeat(5000)), 'KEYFILE_SHAPE', 'size bound before parsing');
});

t.test('sign-out leaves nothing that names a patient in the browser', async (t) => {
  const { local, session } = browserStorage(t);
  const s = openSession(seed, 'clinician');
  const P1 = 'ab'.repeat(32);
  const P2 = 'cd'.repeat(32);
  // What a clinician's list looked like when it was kept in localStorage (before ADR 0124), and what the
  // dashboard stores for the open tab now.
  local.setItem(`vigil.patients.${s.key}`, JSON.stringify([P1]));
  session.setItem(`vigil.patients.${s.key}`, JSON.stringify([P1, P2]));
  // Another site's data on the same origin is not the dashboard's to remove.
  local.setItem('other.app', 'kept');
  closeSession();
  t.same(local.keys(), ['other.app'], 'no vigil.* key left in localStorage');
  t.same(session.keys(), [], 'no vigil.* key left in sessionStorage');
  t.equal(restoreSession(), undefined, 'signed out');
});

t.test('at start, a list an earlier version left in localStorage is removed', async (t) => {
  const { local, session } = browserStorage(t);
  const s = openSession(seed, 'clinician');
  local.setItem(`vigil.patients.${'22'.repeat(32)}`, JSON.stringify(['ab'.repeat(32)]));
  local.setItem('other.app', 'kept');
  wipeLegacyData();
  t.same(local.keys(), ['other.app']);
  t.same(session.keys(), ['vigil.session'], "this tab's session is not touched");
  t.equal(restoreSession()?.key, s.key, 'the tab stays signed in');
});
