import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ChainStore } from './chain-store.ts';
import { levelOpenOptions, MAX_WRITE_BUFFER_BYTES, MIN_WRITE_BUFFER_BYTES, openDb } from './db.ts';

t.test('the write buffer option: passed to LevelDB when given, refused out of range', async (t) => {
  t.same(levelOpenOptions({}), {}, 'unset: LevelDB’s default');
  t.same(levelOpenOptions({ writeBufferBytes: 5 * 2 ** 20 }), { writeBufferSize: 5 * 2 ** 20 });
  t.same(levelOpenOptions({ writeBufferBytes: MIN_WRITE_BUFFER_BYTES }), {
    writeBufferSize: MIN_WRITE_BUFFER_BYTES,
  });
  t.same(levelOpenOptions({ writeBufferBytes: MAX_WRITE_BUFFER_BYTES }), {
    writeBufferSize: MAX_WRITE_BUFFER_BYTES,
  });
  for (const bad of [
    0,
    -1,
    MIN_WRITE_BUFFER_BYTES - 1,
    MAX_WRITE_BUFFER_BYTES + 1,
    4.5e6 + 0.5,
    Number.NaN,
    Infinity,
  ])
    t.throws(() => levelOpenOptions({ writeBufferBytes: bad }), { code: 'INVALID_OPTION' }, String(bad));
});

t.test(
  'a chain store opened with its own write buffer works; a bad one changes nothing on disk',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-db-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'chain');
    await t.rejects(ChainStore.open(path, { writeBufferBytes: 1 }), { code: 'INVALID_OPTION' });
    t.notOk(existsSync(path), 'refused before LevelDB created the directory');
    const store = await ChainStore.open(path, { writeBufferBytes: 6 * 2 ** 20 });
    t.equal(store.head, undefined, 'a fresh database');
    await store.close();
  },
);

t.test(
  'the size reaches LevelDB: a small buffer flushes to table files where the default does not',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-db-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const tables = async (name: string, writeBufferBytes?: number) => {
      const path = join(dir, name);
      const db = await openDb(path, writeBufferBytes !== undefined ? { writeBufferBytes } : {});
      // 1.6 MB: less than the default 4 MiB buffer, 25 times a 64 KiB one.
      for (let i = 0; i < 200; i++)
        await db.put(new TextEncoder().encode(`k${i}`), new Uint8Array(8192).fill(i));
      await db.close(); // waits for LevelDB's background work
      return readdirSync(path).filter((f) => f.endsWith('.ldb')).length;
    };
    t.equal(await tables('default'), 0);
    t.ok((await tables('small', MIN_WRITE_BUFFER_BYTES)) > 0);
  },
);
