// The node's direct reader and writer of effects records (ADR 0133) against the reference codec in
// consensus/src/proof/effects.ts: the same bytes written, the same values read, and the same records
// refused, for random records and for every single-byte corruption of them.
import fc from 'fast-check';
import t from 'tap';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  type BlockEffects,
  decodeBlockEffects,
  effectsDigestInput,
  encodeBlockEffects,
  encodeEffectsDigestValue,
} from '@vigil/consensus/proof/effects.ts';
import {
  decodeEffectsRecord,
  effectsDigestValue,
  encodeEffectsRecord,
  MAX_EFFECTS_BYTES,
} from './block-effects.ts';
import { MAX_KEY_BYTES, MAX_VALUE_BYTES } from './overlay.ts';

const limits = { maxBytes: MAX_EFFECTS_BYTES, maxKeyBytes: MAX_KEY_BYTES, maxValueBytes: MAX_VALUE_BYTES };

const write = fc.record({
  key: fc.uint8Array({ minLength: 1, maxLength: 40 }),
  value: fc.option(fc.uint8Array({ maxLength: 300 }), { nil: undefined }),
});
const effects: fc.Arbitrary<BlockEffects> = fc.record({
  stateWrites: fc.array(write, { maxLength: 30 }),
  indexWrites: fc.array(write, { maxLength: 30 }),
  receipts: fc.array(fc.uint8Array({ maxLength: 60 }), { maxLength: 30 }),
  events: fc.array(
    fc.record({
      position: fc.nat(1000),
      kind: fc.constantFrom('alertRaised', 'counted', 'x'),
      data: fc.array(
        fc.oneof(fc.nat(), fc.string({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 }), fc.constant(null)),
        {
          maxLength: 4,
        },
      ),
    }),
    { maxLength: 4 },
  ),
});

/** What a decoder made of bytes: the values, or that it refused them (with which error class). */
function outcome(decode: () => BlockEffects): unknown {
  try {
    const e = decode();
    const plain = (list: BlockEffects['stateWrites']) =>
      list.map((w) => [Buffer.from(w.key).toString('hex'), w.value && Buffer.from(w.value).toString('hex')]);
    return {
      s: plain(e.stateWrites),
      i: plain(e.indexWrites),
      r: e.receipts.map((r) => Buffer.from(r).toString('hex')),
      e: JSON.stringify(e.events, (_, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)),
    };
  } catch (err) {
    return { refused: (err as { code?: string }).code };
  }
}

t.test('the direct writer writes the canonical bytes; the direct reader reads the same values', (t) => {
  fc.assert(
    fc.property(effects, (e) => {
      const reference = encodeBlockEffects(e);
      const direct = encodeEffectsRecord(
        e.stateWrites,
        e.indexWrites,
        e.events.map((ev) => ({ position: ev.position, event: { kind: ev.kind, data: ev.data } })),
        e.receipts,
      );
      t.same(direct, reference);
      t.same(
        outcome(() => decodeEffectsRecord(direct)),
        outcome(() => decodeBlockEffects(direct, limits)),
      );
    }),
    { numRuns: 300 },
  );
  t.end();
});

t.test('every single-byte corruption is refused or read exactly as the reference decoder does', (t) => {
  fc.assert(
    fc.property(effects, fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean(), (e, at, x, cut) => {
      const bytes = Uint8Array.from(encodeBlockEffects(e));
      const i = at % bytes.length;
      const mutated = cut ? bytes.subarray(0, i) : bytes;
      if (!cut) mutated[i]! ^= x;
      const mine = outcome(() => decodeEffectsRecord(mutated));
      const theirs = outcome(() => decodeBlockEffects(mutated, limits));
      if ('refused' in (theirs as object)) t.same(mine, { refused: 'MALFORMED_PROOF' });
      else t.same(mine, theirs);
    }),
    { numRuns: 2000 },
  );
  t.end();
});

t.test('state writes are copied out of the record; index writes and receipts are views', (t) => {
  const e: BlockEffects = {
    stateWrites: [{ key: Uint8Array.of(1), value: Uint8Array.of(2) }],
    indexWrites: [{ key: Uint8Array.of(3), value: Uint8Array.of(4) }],
    receipts: [Uint8Array.of(5)],
    events: [],
  };
  const bytes = encodeBlockEffects(e);
  const d = decodeEffectsRecord(bytes);
  t.not(d.stateWrites[0]!.value!.buffer, bytes.buffer, 'a cached state value does not pin the record');
  t.equal(d.indexWrites[0]!.value!.buffer, bytes.buffer);
  t.equal(d.receipts[0]!.buffer, bytes.buffer);
  t.end();
});

t.test(
  'the digest hashed with node:crypto is SHA-256 of the reference input, as a client computes it',
  (t) => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (record) => {
        t.same(effectsDigestValue(record), encodeEffectsDigestValue(sha256(effectsDigestInput(record))));
      }),
      { numRuns: 200 },
    );
    t.end();
  },
);
