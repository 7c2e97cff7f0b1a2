import {
  appendFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { DurableQueue } from './queue.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function tmp(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-queue-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'queue.log');
}

t.test('entries survive reopen in order; acks and replacements are durable', async (t) => {
  const path = tmp(t);
  const q = DurableQueue.open(path);
  const seqs = ['a', 'b', 'c', 'd'].map((s) => q.enqueue(enc(s)));
  t.same(seqs, [1, 2, 3, 4]);
  q.ack(2);
  q.replace(3, enc('c2'));
  q.close();
  const r = DurableQueue.open(path);
  t.same(
    r.peek().map((e) => [e.seq, dec(e.payload)]),
    [
      [1, 'a'],
      [3, 'c2'],
      [4, 'd'],
    ],
  );
  t.equal(r.size, 3);
  t.equal(r.bytes, 4);
  t.equal(r.enqueue(enc('e')), 5, 'sequence numbers continue after reopen');
  r.ack(1);
  r.ack(1); // idempotent
  t.same(
    r.peek(2).map((e) => e.seq),
    [3, 4],
  );
  r.close();
  t.equal(statSync(path).mode & 0o777, 0o600);
});

t.test('a torn tail (crash mid-append) is cut off; earlier entries stay', async (t) => {
  const path = tmp(t);
  const q = DurableQueue.open(path);
  q.enqueue(enc('one'));
  q.enqueue(enc('two'));
  q.close();
  const full = readFileSync(path).length;
  for (const cut of [1, 5, 17, 19]) {
    // Simulate a partial third frame of various lengths.
    const q2 = DurableQueue.open(path);
    q2.enqueue(enc('three'));
    q2.close();
    truncateSync(path, full + cut);
    const r = DurableQueue.open(path);
    t.equal(r.recovery.truncatedBytes, cut);
    t.same(
      r.peek().map((e) => dec(e.payload)),
      ['one', 'two'],
    );
    r.close();
    t.equal(readFileSync(path).length, full, 'the file is cut back to the last good frame');
  }
  // A corrupted byte in the last frame's payload fails its CRC and is treated the same way.
  const q3 = DurableQueue.open(path);
  q3.enqueue(enc('three'));
  q3.close();
  const bytes = readFileSync(path);
  bytes[bytes.length - 1] ^= 0xff;
  writeFileSync(path, bytes);
  const r = DurableQueue.open(path);
  t.same(
    r.peek().map((e) => dec(e.payload)),
    ['one', 'two'],
  );
  // After recovery, new frames append cleanly.
  r.enqueue(enc('four'));
  r.close();
  t.same(
    DurableQueue.open(path)
      .peek()
      .map((e) => dec(e.payload)),
    ['one', 'two', 'four'],
  );
});

t.test('full policy: refuse new entries with QUEUE_FULL, keep the old ones', async (t) => {
  const path = tmp(t);
  const q = DurableQueue.open(path, { maxEntries: 3, maxBytes: 1000 });
  q.enqueue(enc('1'));
  q.enqueue(enc('2'));
  q.enqueue(enc('3'));
  t.throws(() => q.enqueue(enc('4')), { code: 'QUEUE_FULL' });
  t.same(
    q.peek().map((e) => dec(e.payload)),
    ['1', '2', '3'],
    'nothing was dropped',
  );
  q.ack(1);
  t.equal(q.enqueue(enc('4')), 4, 'space frees up when entries are delivered; a refusal used no seq');
  q.close();
  const b = DurableQueue.open(tmp(t), { maxEntries: 100, maxBytes: 10 });
  b.enqueue(new Uint8Array(8));
  t.throws(() => b.enqueue(new Uint8Array(3)), { code: 'QUEUE_FULL' }, 'byte bound');
  b.close();
});

t.test('compaction keeps exactly the pending entries and shrinks the file', async (t) => {
  const path = tmp(t);
  const q = DurableQueue.open(path);
  const payload = new Uint8Array(20_000);
  for (let i = 0; i < 120; i++) {
    payload[0] = i;
    q.enqueue(payload);
  }
  const before = statSync(path).size;
  // Compaction runs once the file is >= 1 MiB and over 4x the pending data: after 90 of 120 acks.
  for (let i = 1; i <= 110; i++) q.ack(i);
  const size = statSync(path).size;
  t.ok(before > 120 * 20_000 && size < 31 * 20_100, `compacted from ${before} to ${size} bytes`);
  q.close();
  const r = DurableQueue.open(path);
  t.same(
    r.peek().map((e) => [e.seq, e.payload[0]]),
    Array.from({ length: 10 }, (_, i) => [111 + i, 110 + i]),
  );
  t.equal(r.enqueue(enc('x')), 121);
  r.close();
});

t.test('garbage appended by something else is cut, not parsed', async (t) => {
  const path = tmp(t);
  const q = DurableQueue.open(path);
  q.enqueue(enc('ok'));
  q.close();
  appendFileSync(path, Buffer.from([9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]));
  const r = DurableQueue.open(path);
  t.equal(r.recovery.truncatedBytes, 18);
  t.same(
    r.peek().map((e) => dec(e.payload)),
    ['ok'],
  );
  r.close();
});

t.test(
  'replacements alone (re-signing during a long outage, no ack) do not grow the file forever',
  async (t) => {
    // A device whose nodes answer but never commit re-signs its oldest entries every few minutes; each
    // re-sign appends a REPLACE frame. Compaction ran only after an ack, so the log grew without bound.
    const path = tmp(t);
    const q = DurableQueue.open(path);
    const seq = q.enqueue(new Uint8Array(1000).fill(1));
    for (let i = 0; i < 3000; i++) q.replace(seq, new Uint8Array(1000).fill(i & 0xff));
    const size = statSync(path).size;
    t.ok(size < 1.1 * (1 << 20), `log is ${size} bytes for 1 KB pending`);
    q.close();
    const again = DurableQueue.open(path);
    t.same([...again.peek()[0]!.payload.slice(0, 1)], [2999 & 0xff], 'the latest version survives');
    again.close();
  },
);
