import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { sleep, startChild } from '../exec/child-harness.ts';
import { ConsensusRecordStore } from './store.ts';
import { dataFilesSnapshot } from '../testing/dir-snapshot.ts';

t.test('records round-trip, deletes apply, bounds are typed', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-cs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const s = await ConsensusRecordStore.open(dir);
  await s.persist([
    { key: 'view', value: Uint8Array.of(3) },
    { key: 'prepared/7', value: Uint8Array.of(1, 2) },
    { key: 'empty', value: new Uint8Array(0) },
  ]);
  await s.persist([{ key: 'prepared/7', value: null }]);
  await t.rejects(s.persist([{ key: '', value: Uint8Array.of(1) }]), { code: 'RECORD_TOO_LARGE' });
  await s.close();
  const again = await ConsensusRecordStore.open(dir);
  t.same(await again.loadAll(), [
    { key: 'empty', value: new Uint8Array(0) },
    { key: 'view', value: Uint8Array.of(3) },
  ]);
  await again.close();
  await t.rejects(again.loadAll(), { code: 'CLOSED' });
});

t.test('every acknowledged batch survives SIGKILL, and batches are all-or-nothing', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-cs-kill-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const script = new URL('./crash-child.ts', import.meta.url).pathname;
  let acked = 0;
  const kills = 8;
  for (let k = 0; k < kills; k++) {
    const child = startChild(script, [dir]);
    try {
      await child.waitFor(/^ready$/);
      await sleep(20 + ((k * 37) % 90));
    } finally {
      await child.kill();
    }
    const last = child.lines.filter((l) => l.startsWith('ack ')).map((l) => Number(l.slice(4)));
    if (last.length > 0) acked = Math.max(acked, last.at(-1)!);
    const store = await ConsensusRecordStore.open(dir);
    const records = new Map((await store.loadAll()).map((r) => [r.key, r.value]));
    await store.close();
    const s = [...records.keys()].filter((x) => x.startsWith('s/')).map((x) => Number(x.slice(2)));
    const top = Math.max(0, ...s);
    t.ok(top >= acked, `kill ${k}: acknowledged batch ${acked} is on disk (top ${top})`);
    // All or nothing: for every batch on disk, its `r/` put (unless deleted by batch i+3) is there too.
    let atomic = true;
    for (let i = 1; i <= top; i++) {
      const id = String(i).padStart(8, '0');
      if (!records.has(`s/${id}`)) atomic = false;
      const shouldHaveR = i > top - 3;
      if (records.has(`r/${id}`) !== shouldHaveR) atomic = false;
    }
    t.ok(atomic, `kill ${k}: batches 1..${top} all complete`);
  }
  t.ok(acked > 0, 'the child made progress');
});

t.test(
  'a write buffer of its own (ADR 0118); an out-of-range one is refused before anything is created',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-consensus-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await t.rejects(ConsensusRecordStore.open(join(dir, 'bad'), { writeBufferBytes: 0 }), {
      code: 'INVALID_OPTION',
    });
    t.notOk(existsSync(join(dir, 'bad')));
    const store = await ConsensusRecordStore.open(join(dir, 'ok'), { writeBufferBytes: 5 * 2 ** 20 });
    await store.persist([{ key: 'v', value: new Uint8Array([1]) }]);
    t.same(await store.loadAll(), [{ key: 'v', value: new Uint8Array([1]) }]);
    await store.close();
  },
);

t.test('a consensus directory whose CURRENT is lost is refused and left unchanged', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-cstore-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const s = await ConsensusRecordStore.open(dir);
  const records = Array.from({ length: 2000 }, (_, i) => ({
    key: `pbft/votes/${i}`,
    value: new Uint8Array(64).fill(i % 256),
  }));
  await s.persist(records);
  await s.close();
  // Reopened once, so the records move from the write-ahead log into table files.
  await (await ConsensusRecordStore.open(dir)).close();
  await rm(join(dir, 'CURRENT'));
  const snapshot = () => dataFilesSnapshot(dir);
  const before = await snapshot();
  await t.rejects(ConsensusRecordStore.open(dir), { code: 'CORRUPT_DATABASE' });
  t.same(await snapshot(), before, 'no file created, changed or deleted');
  await writeFile(join(dir, 'CURRENT'), `${(await readdir(dir)).find((f) => f.startsWith('MANIFEST-'))}\n`);
  const back = await ConsensusRecordStore.open(dir);
  t.equal((await back.loadAll()).length, 2000, 'restored, every record is there');
  await back.close();
});
