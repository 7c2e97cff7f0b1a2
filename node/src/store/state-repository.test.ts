// The state read cache: exact values (including 'absent') whatever the cache size, and committed
// writes replace what it holds.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { openDb, writeBatch } from './db.ts';
import { keys } from './keys.ts';
import { StateRepository } from './repositories.ts';

const k = (i: number) => new TextEncoder().encode(`key-${i}`);
const v = (i: number, gen = 0) => new TextEncoder().encode(`value-${i}-${gen}`);

t.test('a tiny cache under churn still returns every stored, absent and committed value', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-state-repo-'));
  const db = await openDb(dir);
  t.teardown(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });
  // Even keys exist on disk; odd keys do not.
  await writeBatch(
    db,
    Array.from({ length: 50 }, (_, i) => ({
      type: 'put' as const,
      key: keys.state(k(2 * i)),
      value: v(2 * i),
    })),
  );
  const repo = new StateRepository(db, 3);
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 100; i++) {
      const got = await repo.get(k(i));
      if (i % 2 === 0) t.same(got, v(i), `key ${i}, round ${round}`);
      else t.equal(got, undefined, `absent key ${i}, round ${round}`);
    }
  }
  // A committed write (durable first, then handed to the cache) wins over what was cached, and a
  // committed delete turns into 'absent'.
  await repo.get(k(0));
  await writeBatch(db, [
    { type: 'put', key: keys.state(k(0)), value: v(0, 1) },
    { type: 'del', key: keys.state(k(2)) },
  ]);
  repo.committed([
    { key: k(0), value: v(0, 1) },
    { key: k(2), value: undefined },
  ]);
  t.same(await repo.get(k(0)), v(0, 1));
  t.equal(await repo.get(k(2)), undefined);
  await repo.prefetch([k(4), k(5), k(6), k(7)]);
  t.same(await repo.get(k(6)), v(6));
  t.equal(await repo.get(k(7)), undefined);
});
