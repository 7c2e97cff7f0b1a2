import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { toHex } from '../util/hex.ts';
import { createKeyFile, loadKeyFile, loadOrCreateKeyFile } from './keyfile.ts';
import { NonceStore } from './nonce-store.ts';

function dir(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'vigil-key-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

t.test('a created key file is 0600 and loads back to the same key', async (t) => {
  const path = join(dir(t), 'device.key');
  const k = createKeyFile(path);
  t.equal(statSync(path).mode & 0o777, 0o600);
  const l = loadKeyFile(path);
  t.equal(toHex(l.seed), toHex(k.seed));
  t.equal(toHex(l.publicKey), toHex(k.publicKey));
  t.throws(() => createKeyFile(path), { code: 'EEXIST' }, 'never overwrites an existing key');
  t.equal(toHex(loadOrCreateKeyFile(path).publicKey), toHex(k.publicKey));
});

t.test('a key file readable or writable by group/others is refused', async (t) => {
  const path = join(dir(t), 'device.key');
  createKeyFile(path);
  for (const mode of [0o644, 0o640, 0o604, 0o620, 0o602]) {
    chmodSync(path, mode);
    t.throws(() => loadKeyFile(path), { code: 'KEY_FILE_INSECURE' }, mode.toString(8));
  }
  chmodSync(path, 0o400);
  t.ok(loadKeyFile(path), 'owner read-only is fine');
});

t.test('malformed key files are typed errors', async (t) => {
  const d = dir(t);
  const write = (name: string, text: string) => {
    const p = join(d, name);
    writeFileSync(p, text, { mode: 0o600 });
    return p;
  };
  t.throws(() => loadKeyFile(write('a', 'not json')), { code: 'KEY_FILE_INVALID' });
  t.throws(() => loadKeyFile(write('b', '{"version":1,"seed":"abcd"}')), { code: 'KEY_FILE_INVALID' });
  t.throws(() => loadKeyFile(write('c', '{"version":2,"seed":"' + '00'.repeat(32) + '"}')), {
    code: 'KEY_FILE_INVALID',
  });
  t.throws(
    () =>
      loadKeyFile(write('d', `{"version":1,"seed":"${'00'.repeat(32)}","publicKey":"${'11'.repeat(32)}"}`)),
    { code: 'KEY_FILE_INVALID' },
    'public key must match the seed',
  );
  t.throws(() => loadKeyFile(join(d, 'missing')), { code: 'ENOENT' });
});

t.test('the nonce store persists, never moves backwards, and rejects a damaged file', async (t) => {
  const d = dir(t);
  const path = join(d, 'nonce.json');
  const s = NonceStore.open(path);
  t.equal(s.lastAssigned, 0);
  s.record(5);
  s.record(3);
  t.equal(NonceStore.open(path).lastAssigned, 5);
  s.record(2, true);
  t.equal(NonceStore.open(path).lastAssigned, 2, 'force moves it back (resync from the chain)');
  writeFileSync(path, '{"last":-1}');
  t.throws(() => NonceStore.open(path), { code: 'NONCE_FILE_INVALID' });
  writeFileSync(path, 'garbage');
  t.throws(() => NonceStore.open(path), { code: 'NONCE_FILE_INVALID' });
});
