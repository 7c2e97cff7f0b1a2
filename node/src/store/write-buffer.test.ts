import t from 'tap';
import { BASE_WRITE_BUFFER_BYTES, writeBufferBytesFor } from './write-buffer.ts';

const key = (first: number) => new Uint8Array(32).fill(7).map((b, i) => (i === 0 ? first : b));
const inRange = (w: number) =>
  Number.isSafeInteger(w) &&
  w >= BASE_WRITE_BUFFER_BYTES &&
  w < 2 * BASE_WRITE_BUFFER_BYTES &&
  w % 65536 === 0;

t.test('every genesis validator gets its own size, evenly spread over [4, 8) MiB', async (t) => {
  for (const n of [1, 4, 7, 16]) {
    const sizes = Array.from({ length: n }, (_, i) => writeBufferBytesFor(i, n, key(i)));
    t.ok(sizes.every(inRange), `n = ${n}: in range, whole 64 KiB steps`);
    t.equal(new Set(sizes).size, n, `n = ${n}: no two alike`);
    t.equal(sizes[0], BASE_WRITE_BUFFER_BYTES, 'the first keeps LevelDB’s default');
    // Neighbours differ by about 4 MiB / n: enough that two validators' flushes drift apart.
    for (let i = 1; i < n; i++) t.ok(sizes[i]! - sizes[i - 1]! >= (BASE_WRITE_BUFFER_BYTES / n) * 0.9);
  }
  t.same(
    [0, 1, 2, 3].map((i) => writeBufferBytesFor(i, 4, key(0)) / 2 ** 20),
    [4, 5, 6, 7],
    'n = 4: 4, 5, 6 and 7 MiB whatever the keys',
  );
});

t.test('a node outside the set takes its size from its key, deterministically', async (t) => {
  const a = writeBufferBytesFor(-1, 4, key(0x00));
  const b = writeBufferBytesFor(-1, 4, key(0x80));
  const c = writeBufferBytesFor(-1, 4, key(0xff));
  t.ok([a, b, c].every(inRange));
  t.equal(a, writeBufferBytesFor(-1, 4, key(0x00)), 'same key, same size');
  t.ok(a < b && b < c, 'the key spreads it');
  // An index that cannot be a member's (beyond the set, not an integer) is treated as a non-member.
  t.equal(writeBufferBytesFor(9, 4, key(0x80)), b);
  t.equal(writeBufferBytesFor(1.5, 4, key(0x80)), b);
  t.ok(inRange(writeBufferBytesFor(-1, 4, new Uint8Array(0))), 'even an empty key gives a valid size');
});
