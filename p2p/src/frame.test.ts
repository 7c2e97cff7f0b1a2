import fc from 'fast-check';
import t from 'tap';
import { P2PErrorCode } from './errors.ts';
import { batchBodyBytes, decodeBatchBody, encodeFrame, FrameDecoder, MIN_BODY_BYTES } from './frame.ts';

const limits = { maxFrameBytes: 1 << 20, maxMessagesPerFrame: 1000 };
const runs = Number(process.env.VIGIL_PROPERTY_RUNS ?? 300);

t.test('a frame is u32 length, version, u32 count, then u32-length-prefixed messages', async (t) => {
  const f = encodeFrame([Uint8Array.of(0xaa), new Uint8Array(0), Uint8Array.of(1, 2)]);
  t.same(
    [...f],
    [0, 0, 0, 20, 1, 0, 0, 0, 3, 0, 0, 0, 1, 0xaa, 0, 0, 0, 0, 0, 0, 0, 2, 1, 2],
    'byte layout of docs/p2p.md',
  );
  t.equal(f.byteLength, 4 + batchBodyBytes([Uint8Array.of(0xaa), new Uint8Array(0), Uint8Array.of(1, 2)]));
});

t.test('encoding refuses an empty batch', async (t) => {
  t.throws(() => encodeFrame([]), { code: P2PErrorCode.badBatch });
});

t.test('any batches split into any chunks decode to the same messages', async (t) => {
  const message = fc.uint8Array({ maxLength: 64 });
  const batch = fc.array(message, { minLength: 1, maxLength: 8 });
  fc.assert(
    fc.property(fc.array(batch, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(40)), (batches, cuts) => {
      const bytes = Buffer.concat(batches.map((b) => encodeFrame(b)));
      const d = new FrameDecoder(limits);
      const got: Uint8Array[][] = [];
      let at = 0;
      for (const c of cuts) {
        const r = d.push(bytes.subarray(at, Math.min(bytes.length, at + c)));
        if (r.error) throw r.error;
        got.push(...r.batches);
        at = Math.min(bytes.length, at + c);
      }
      const r = d.push(bytes.subarray(at));
      if (r.error) throw r.error;
      got.push(...r.batches);
      t.equal(d.bufferedBytes, 0);
      return (
        JSON.stringify(got.map((b) => b.map((m) => [...m]))) ===
        JSON.stringify(batches.map((b) => b.map((m) => [...m])))
      );
    }),
    { numRuns: runs },
  );
});

t.test('a chunk list is read piece by piece, never concatenated, with the same result', async () => {
  const message = fc.uint8Array({ maxLength: 64 });
  const batch = fc.array(message, { minLength: 1, maxLength: 8 });
  fc.assert(
    fc.property(fc.array(batch, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(30)), (batches, cuts) => {
      const bytes = Buffer.concat(batches.map((b) => encodeFrame(b)));
      // Pieces of the stream, delivered as one list-like chunk (libp2p's Uint8ArrayList) per pair.
      const pieces: Uint8Array[] = [];
      let at = 0;
      for (const c of cuts) {
        pieces.push(bytes.subarray(at, Math.min(bytes.length, at + c)));
        at = Math.min(bytes.length, at + c);
      }
      pieces.push(bytes.subarray(at));
      const d = new FrameDecoder(limits);
      const got: Uint8Array[][] = [];
      for (let i = 0; i < pieces.length; i += 2) {
        const list = pieces.slice(i, i + 2);
        const r = d.push({
          byteLength: list.reduce((n, p) => n + p.byteLength, 0),
          subarray: () => {
            throw new Error('the list was concatenated');
          },
          [Symbol.iterator]: () => list[Symbol.iterator](),
        });
        if (r.error) throw r.error;
        got.push(...r.batches);
      }
      return (
        d.bufferedBytes === 0 &&
        JSON.stringify(got.map((b) => b.map((m) => [...m]))) ===
          JSON.stringify(batches.map((b) => b.map((m) => [...m])))
      );
    }),
    { numRuns: runs },
  );
});

t.test('messages are copies unless the reader asks for views into the body', async (t) => {
  const messages = [Uint8Array.of(1, 2, 3), Uint8Array.of(4), new Uint8Array(0)];
  const body = encodeFrame(messages).subarray(4);
  const copies = decodeBatchBody(body, limits);
  const views = decodeBatchBody(body, limits, { messageViews: true });
  t.same(copies, messages);
  t.same(views, messages);
  t.ok(
    copies.every((m) => m.buffer !== body.buffer),
    'copies share no memory with the frame',
  );
  t.ok(
    views.every((m) => m.buffer === body.buffer),
    'views are into the frame',
  );
  const [viewed] = new FrameDecoder(limits, { messageViews: true }).push(encodeFrame(messages)).batches;
  t.same(viewed, messages, 'the decoder passes the option on');
});

t.test('an oversize length prefix is refused before any body byte arrives', async (t) => {
  const d = new FrameDecoder({ maxFrameBytes: 100, maxMessagesPerFrame: 10 });
  const r = d.push(Uint8Array.of(0, 0, 0, 101));
  t.equal(r.error?.code, P2PErrorCode.frameTooLarge);
  t.equal(d.bufferedBytes, 0, 'nothing buffered');
  t.equal(d.push(encodeFrame([Uint8Array.of(1)])).error?.code, P2PErrorCode.frameTooLarge, 'stays poisoned');
});

t.test('a length prefix below the smallest body is a bad length prefix', async (t) => {
  for (const len of [0, 1, MIN_BODY_BYTES - 1]) {
    const d = new FrameDecoder(limits);
    t.equal(d.push(Uint8Array.of(0, 0, 0, len)).error?.code, P2PErrorCode.badLengthPrefix, `length ${len}`);
  }
});

t.test('malformed batch bodies are rejected with P2P_BAD_BATCH', async (t) => {
  const good = encodeFrame([Uint8Array.of(7, 7)]).subarray(4);
  const cases: [string, Uint8Array][] = [
    ['bad version', Uint8Array.of(2, ...good.subarray(1))],
    ['zero count', Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0, 0)],
    ['count larger than fits', Uint8Array.of(1, 0, 0, 0, 9, 0, 0, 0, 0)],
    ['message runs past body', Uint8Array.of(1, 0, 0, 0, 1, 0, 0, 0, 5, 1)],
    ['trailing bytes', Uint8Array.of(...good, 0)],
    ['too many messages', encodeFrame([Uint8Array.of(1), Uint8Array.of(2)]).subarray(4)],
  ];
  for (const [name, body] of cases) {
    t.throws(
      () => decodeBatchBody(body, { maxFrameBytes: 100, maxMessagesPerFrame: 1 }),
      { code: P2PErrorCode.badBatch },
      name,
    );
  }
  t.same(decodeBatchBody(good, limits), [Uint8Array.of(7, 7)]);
});

t.test('valid frames ahead of garbage in the same chunk are still delivered', async (t) => {
  const d = new FrameDecoder(limits);
  const chunk = Buffer.concat([encodeFrame([Uint8Array.of(1)]), Uint8Array.of(0, 0, 0, 0)]);
  const r = d.push(chunk);
  t.same(r.batches, [[Uint8Array.of(1)]]);
  t.equal(r.error?.code, P2PErrorCode.badLengthPrefix);
});

t.test('accepts Uint8ArrayList-like chunks (what libp2p streams emit)', async (t) => {
  const d = new FrameDecoder(limits);
  const f = encodeFrame([Uint8Array.of(5, 6)]);
  const r = d.push({ byteLength: f.byteLength, subarray: () => f });
  t.same(r.batches, [[Uint8Array.of(5, 6)]]);
});

t.test('arbitrary bytes never crash the decoder and never buffer more than one frame', async (t) => {
  const small = { maxFrameBytes: 256, maxMessagesPerFrame: 16 };
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 10 }), (chunks) => {
      const d = new FrameDecoder(small);
      for (const c of chunks) {
        const r = d.push(c); // must not throw
        if (d.bufferedBytes > small.maxFrameBytes) return false;
        for (const b of r.batches) if (b.length < 1 || b.length > small.maxMessagesPerFrame) return false;
        if (r.error) return r.error.code.startsWith('P2P_');
      }
      return true;
    }),
    { numRuns: runs * 3 },
  );
  t.pass('no crash');
});
