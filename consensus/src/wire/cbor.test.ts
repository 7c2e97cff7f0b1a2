import fc from 'fast-check';
import t from 'tap';
import { type CborValue, decodeCanonical, encodeCanonical } from './cbor.ts';
import { WireError } from './errors.ts';
import { fromHex, toHex } from './hash.ts';
import { MAX_DEPTH } from './limits.ts';
import { arbCborValue, expectWireError, normalise, propertyRuns, sameValue } from './test-support.ts';

// ---------------------------------------------------------------------------------------------------
// An independent reference for the canonical subset, written from RFC 8949 §3 and §4.2.1 only (it shares
// no code with cbor.ts and never calls cbor-x): a head writer, an encoder, and a strict checker.
// ---------------------------------------------------------------------------------------------------

function refHead(major: number, arg: bigint): number[] {
  const m = major << 5;
  if (arg < 24n) return [m | Number(arg)];
  const widths: [number, number][] = [
    [24, 1],
    [25, 2],
    [26, 4],
    [27, 8],
  ];
  for (const [ai, w] of widths) {
    if (arg < 1n << BigInt(8 * w)) {
      const out = [m | ai];
      for (let i = w - 1; i >= 0; i--) out.push(Number((arg >> BigInt(8 * i)) & 0xffn));
      return out;
    }
  }
  throw new Error('argument too large');
}

function refEncode(v: CborValue): number[] {
  if (v === null) return [0xf6];
  if (v === false) return [0xf4];
  if (v === true) return [0xf5];
  if (typeof v === 'number' || typeof v === 'bigint') {
    const b = BigInt(v);
    return b >= 0n ? refHead(0, b) : refHead(1, -1n - b);
  }
  if (typeof v === 'string') {
    const u = new TextEncoder().encode(v);
    return [...refHead(3, BigInt(u.length)), ...u];
  }
  if (v instanceof Uint8Array) return [...refHead(2, BigInt(v.length)), ...v];
  return [...refHead(4, BigInt(v.length)), ...v.flatMap(refEncode)];
}

/** Strict checker: returns the end offset of one canonical item at `pos`, or throws a plain Error. */
function refCheck(b: Uint8Array, pos: number, depth: number): number {
  if (depth > MAX_DEPTH) throw new Error('too deep');
  if (pos >= b.length) throw new Error('truncated');
  const ib = b[pos]!;
  const major = ib >> 5;
  const ai = ib & 31;
  if (major === 7) {
    if (ai >= 20 && ai <= 22) return pos + 1;
    throw new Error('simple/float');
  }
  if (major === 5 || major === 6) throw new Error('map/tag');
  if (ai > 27) throw new Error('indefinite/reserved');
  const w = ai < 24 ? 0 : [1, 2, 4, 8][ai - 24]!;
  if (pos + 1 + w > b.length) throw new Error('truncated head');
  let arg = BigInt(ai);
  if (w > 0) {
    arg = 0n;
    for (let i = 0; i < w; i++) arg = (arg << 8n) | BigInt(b[pos + 1 + i]!);
  }
  const head = refHead(major, arg);
  if (head.length !== 1 + w) throw new Error('non-minimal head');
  let p = pos + 1 + w;
  if (major === 1 && arg === 2n ** 64n - 1n) throw new Error('-(2^64) is outside the subset');
  if (major === 0 || major === 1) return p;
  if (major === 2 || major === 3) {
    const end = p + Number(arg);
    if (end > b.length) throw new Error('truncated string');
    if (major === 3) new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(b.subarray(p, end));
    return end;
  }
  for (let i = 0n; i < arg; i++) p = refCheck(b, p, depth + 1);
  return p;
}

function isCanonical(b: Uint8Array): boolean {
  try {
    return refCheck(b, 0, 0) === b.length;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------

t.test('RFC 8949 Appendix A examples inside the subset encode as the RFC says', async (t) => {
  const cases: [CborValue, string][] = [
    [0, '00'],
    [1, '01'],
    [10, '0a'],
    [23, '17'],
    [24, '1818'],
    [25, '1819'],
    [100, '1864'],
    [1000, '1903e8'],
    [1000000, '1a000f4240'],
    [1000000000000, '1b000000e8d4a51000'],
    [18446744073709551615n, '1bffffffffffffffff'],
    [-18446744073709551615n, '3bfffffffffffffffe'],
    [-1, '20'],
    [-10, '29'],
    [-100, '3863'],
    [-1000, '3903e7'],
    [false, 'f4'],
    [true, 'f5'],
    [null, 'f6'],
    [new Uint8Array(), '40'],
    [fromHex('01020304'), '4401020304'],
    ['', '60'],
    ['a', '6161'],
    ['IETF', '6449455446'],
    ['"\\', '62225c'],
    ['\u00fc', '62c3bc'],
    ['\u6c34', '63e6b0b4'],
    ['\u{10151}', '64f0908591'],
    [[], '80'],
    [[1, 2, 3], '83010203'],
    [[1, [2, 3], [4, 5]], '8301820203820405'],
    [
      Array.from({ length: 25 }, (_, i) => i + 1),
      '98190102030405060708090a0b0c0d0e0f101112131415161718181819',
    ],
  ];
  for (const [v, hex] of cases) {
    t.equal(toHex(encodeCanonical(v)), hex, `encode ${hex}`);
    t.same(decodeCanonical(fromHex(hex)), normalise(v), `decode ${hex}`);
  }
});

t.test('length heads are minimal at every boundary (cbor-x header estimation)', async (t) => {
  // cbor-x guesses a string header size from the UTF-16 length and moves the bytes if it guessed wrong;
  // check each boundary with 1-, 2-, 3- and 4-byte UTF-8 characters.
  for (const ch of ['a', '\u00e9', '\u20ac', '\u{1f600}']) {
    for (const n of [
      0, 1, 5, 6, 7, 8, 23, 24, 31, 32, 63, 64, 85, 86, 255, 256, 21845, 21846, 65535, 65536,
    ]) {
      const s = ch.repeat(Math.max(1, Math.floor(n / new TextEncoder().encode(ch).length)));
      const e = encodeCanonical(s);
      t.ok(
        isCanonical(e) && toHex(e) === toHex(Uint8Array.from(refEncode(s))),
        `string of ${s.length} x U+${ch.codePointAt(0)!.toString(16)}`,
      );
    }
  }
  for (const n of [0, 23, 24, 255, 256, 65535, 65536]) {
    const bytes = new Uint8Array(n).fill(7);
    t.equal(toHex(encodeCanonical(bytes)), toHex(Uint8Array.from(refEncode(bytes))), `bytes of ${n}`);
    const arr = new Array<CborValue>(n).fill(0);
    t.equal(toHex(encodeCanonical(arr)), toHex(Uint8Array.from(refEncode(arr))), `array of ${n}`);
  }
});

t.test('integers at every head-width boundary encode minimally and round-trip', async (t) => {
  const edges: (number | bigint)[] = [];
  for (const b of [
    0n,
    23n,
    24n,
    255n,
    256n,
    65535n,
    65536n,
    2n ** 32n - 1n,
    2n ** 32n,
    2n ** 53n - 1n,
    2n ** 53n,
  ]) {
    edges.push(b, -b - 1n, b + 1n);
  }
  edges.push(2n ** 64n - 1n, -(2n ** 64n) + 1n);
  for (const v of edges) {
    const e = encodeCanonical(v);
    t.equal(toHex(e), toHex(Uint8Array.from(refEncode(v))), `encode ${v}`);
    t.same(decodeCanonical(e), normalise(v), `decode ${v}`);
  }
});

t.test('strings survive the round trip exactly (BOM, NUL, non-characters, astral)', async (t) => {
  for (const s of [
    '\uFEFF',
    '\uFEFF' + 'x'.repeat(100),
    '\u0000',
    '\uFFFF'.repeat(70),
    '\u{1F600}'.repeat(40),
  ]) {
    t.equal(decodeCanonical(encodeCanonical(s)), s, `${s.length} UTF-16 units`);
  }
});

t.test('integer representation: number when safe, bigint otherwise', async (t) => {
  t.equal(decodeCanonical(encodeCanonical(5n)), 5);
  t.equal(decodeCanonical(encodeCanonical(2 ** 53 - 1)), 2 ** 53 - 1);
  t.equal(decodeCanonical(encodeCanonical(2n ** 53n)), 2n ** 53n);
  t.equal(decodeCanonical(encodeCanonical(-(2n ** 53n))), -(2n ** 53n));
  t.equal(decodeCanonical(encodeCanonical(-0)), 0);
  // The edges of the safe range, where the decoder switches representation.
  t.equal(decodeCanonical(encodeCanonical(-(2 ** 53 - 1))), -(2 ** 53 - 1));
  t.equal(
    decodeCanonical(encodeCanonical(-(2n ** 53n) + 1n)),
    -(2 ** 53 - 1),
    'a safe bigint decodes as number',
  );
  t.equal(decodeCanonical(encodeCanonical(2n ** 53n + 1n)), 2n ** 53n + 1n);
  t.equal(decodeCanonical(fromHex('1b0000000100000000')), 2 ** 32, 'an 8-byte head just past 32 bits');
  t.equal(decodeCanonical(fromHex('3b0000000100000000')), -(2 ** 32) - 1);
  t.equal(decodeCanonical(fromHex('1bffffffffffffffff')), 2n ** 64n - 1n);
  t.equal(decodeCanonical(fromHex('3bfffffffffffffffe')), -(2n ** 64n) + 1n);
});

t.test('structural errors are reported ahead of invalid UTF-8 earlier in the input', async (t) => {
  // Layer 1 scans the whole input before any value is built, so the code does not depend on where
  // in the input the two problems sit.
  expectWireError(
    t,
    () => decodeCanonical(fromHex('82 62c328 1817'.replaceAll(' ', ''))),
    'NON_CANONICAL',
    'non-minimal head after it',
  );
  expectWireError(
    t,
    () => decodeCanonical(fromHex('82 62c328 00 00'.replaceAll(' ', ''))),
    'TRAILING_BYTES',
    'a second item after it',
  );
  expectWireError(
    t,
    () => decodeCanonical(fromHex('83 62c328 00'.replaceAll(' ', ''))),
    'MALFORMED',
    'an array short of its count',
  );
});

function sparseArray(): unknown[] {
  const a: unknown[] = [1];
  a[2] = 3; // index 1 is a hole
  return a;
}

t.test('the encoder rejects values outside the subset with UNSUPPORTED_TYPE or TOO_DEEP', async (t) => {
  const bad: [unknown, string][] = [
    [1.5, 'UNSUPPORTED_TYPE'],
    [Number.NaN, 'UNSUPPORTED_TYPE'],
    [Number.POSITIVE_INFINITY, 'UNSUPPORTED_TYPE'],
    [2 ** 53, 'UNSUPPORTED_TYPE'],
    [2n ** 64n, 'UNSUPPORTED_TYPE'],
    [-(2n ** 64n), 'UNSUPPORTED_TYPE'],
    [undefined, 'UNSUPPORTED_TYPE'],
    [{ a: 1 }, 'UNSUPPORTED_TYPE'],
    [new Map(), 'UNSUPPORTED_TYPE'],
    [new Uint16Array(2), 'UNSUPPORTED_TYPE'],
    ['\ud800', 'UNSUPPORTED_TYPE'],
    ['a\udc00b', 'UNSUPPORTED_TYPE'],
    [sparseArray(), 'UNSUPPORTED_TYPE'],
    [Symbol('x'), 'UNSUPPORTED_TYPE'],
  ];
  for (const [v, code] of bad) expectWireError(t, () => encodeCanonical(v as CborValue), code, String(v));
  let deep: CborValue = [];
  for (let i = 1; i < MAX_DEPTH; i++) deep = [deep];
  t.ok(encodeCanonical(deep), `${MAX_DEPTH} levels are fine`);
  expectWireError(t, () => encodeCanonical([deep]), 'TOO_DEEP', `${MAX_DEPTH + 1} levels`);
  const cyclic: CborValue[] = [];
  cyclic.push(cyclic);
  expectWireError(t, () => encodeCanonical(cyclic), 'TOO_DEEP', 'a cycle is bounded by the depth limit');
});

t.test('the decoder rejects each class of bad input with its code', async (t) => {
  const cases: [string, string, string][] = [
    ['', 'MALFORMED', 'empty input'],
    ['18', 'MALFORMED', 'truncated head'],
    ['62 61', 'MALFORMED', 'truncated string'],
    ['83 01 02', 'MALFORMED', 'array shorter than its count'],
    ['9b 00000001 00000000', 'MALFORMED', 'array count beyond input'],
    ['1c', 'MALFORMED', 'reserved additional information'],
    ['ff', 'MALFORMED', 'lone break'],
    ['1f', 'MALFORMED', 'indefinite integer'],
    ['00 00', 'TRAILING_BYTES', 'two items'],
    ['80 ff', 'TRAILING_BYTES', 'garbage after'],
    ['1817', 'NON_CANONICAL', 'non-minimal 1-byte head'],
    ['1900ff', 'NON_CANONICAL', 'non-minimal 2-byte head'],
    ['1a0000ffff', 'NON_CANONICAL', 'non-minimal 4-byte head'],
    ['1b00000000ffffffff', 'NON_CANONICAL', 'non-minimal 8-byte head'],
    ['3b0000000000000000', 'NON_CANONICAL', 'non-minimal negative'],
    ['5800', 'NON_CANONICAL', 'non-minimal byte string length'],
    ['780161', 'NON_CANONICAL', 'non-minimal text length'],
    ['9800', 'NON_CANONICAL', 'non-minimal array length'],
    ['9f ff', 'NON_CANONICAL', 'indefinite array'],
    ['5f 41 00 ff', 'NON_CANONICAL', 'indefinite byte string'],
    ['7f 61 61 ff', 'NON_CANONICAL', 'indefinite text string'],
    ['62 c3 28', 'NON_CANONICAL', 'invalid UTF-8'],
    ['63 ed a0 80', 'NON_CANONICAL', 'UTF-8 encoded surrogate'],
    ['62 c0 80', 'NON_CANONICAL', 'overlong UTF-8'],
    ['a0', 'UNSUPPORTED_TYPE', 'empty map'],
    ['a1 01 02', 'UNSUPPORTED_TYPE', 'map'],
    ['c1 1a 5f5e1000', 'UNSUPPORTED_TYPE', 'tag 1 (epoch date)'],
    ['d8 40 41 00', 'UNSUPPORTED_TYPE', 'tag 64 typed array'],
    ['c2 41 01', 'UNSUPPORTED_TYPE', 'bignum tag'],
    ['f9 3c00', 'UNSUPPORTED_TYPE', 'half float'],
    ['fa 3f800000', 'UNSUPPORTED_TYPE', 'single float'],
    ['fb 3ff0000000000000', 'UNSUPPORTED_TYPE', 'double float 1.0'],
    ['fb 7ff8000000000000', 'UNSUPPORTED_TYPE', 'NaN'],
    ['f7', 'UNSUPPORTED_TYPE', 'undefined'],
    ['f0', 'UNSUPPORTED_TYPE', 'unassigned simple value'],
    ['f8 ff', 'UNSUPPORTED_TYPE', 'one-byte simple value'],
    ['3b ffffffffffffffff', 'UNSUPPORTED_TYPE', '-(2^64)'],
  ];
  for (const [hex, code, what] of cases) {
    expectWireError(t, () => decodeCanonical(fromHex(hex.replaceAll(' ', ''))), code, what);
  }
});

t.test('depth and size limits are enforced before decoding', async (t) => {
  const deepBytes = (n: number) => fromHex('81'.repeat(n - 1) + '80');
  t.ok(decodeCanonical(deepBytes(MAX_DEPTH)));
  expectWireError(t, () => decodeCanonical(deepBytes(MAX_DEPTH + 1)), 'TOO_DEEP', 'one level too deep');
  // 100,000 nested arrays: the pre-scan rejects it without recursing (cbor-x would overflow the stack).
  expectWireError(t, () => decodeCanonical(deepBytes(100_000)), 'TOO_DEEP', 'very deep');
  expectWireError(t, () => decodeCanonical(deepBytes(3), { maxDepth: 2 }), 'TOO_DEEP', 'caller limit');
  expectWireError(t, () => decodeCanonical(new Uint8Array(11), { maxBytes: 10 }), 'TOO_LARGE', 'size');
  t.equal(
    decodeCanonical(fromHex('4100'), { maxBytes: 2 }) instanceof Uint8Array,
    true,
    'exactly at the limit',
  );
  expectWireError(t, () => decodeCanonical('00' as unknown as Uint8Array), 'MALFORMED', 'not bytes');
});

t.test('decoded byte strings are plain Uint8Arrays that do not alias the input', async (t) => {
  const input = fromHex('820142abcd');
  const v = decodeCanonical(input) as [number, Uint8Array];
  t.equal(Object.getPrototypeOf(v[1]), Uint8Array.prototype);
  input[3] = 0;
  t.equal(toHex(v[1]), 'abcd');
  // A view into a larger buffer (a network frame) decodes only its own bytes.
  const frame = fromHex('ffff820142abcdffff');
  t.same(decodeCanonical(frame.subarray(2, 7)), [1, fromHex('abcd')]);
  // Input from the network arrives as a Node Buffer: what comes out is still a plain Uint8Array.
  const fromSocket = Buffer.from('ffff820142abcdffff', 'hex').subarray(2, 7);
  const decoded = decodeCanonical(fromSocket) as [number, Uint8Array];
  t.equal(Object.getPrototypeOf(decoded[1]), Uint8Array.prototype);
  fromSocket[3] = 0;
  t.equal(toHex(decoded[1]), 'abcd');
});

t.test('encoded bytes are owned by the caller: later encodes never overwrite them', async (t) => {
  // The encoder writes into one arena that every call starts again at (cbor-x useBuffer); each result
  // must be a copy, whatever came before or after it (a small value, one larger than the arena).
  const first = encodeCanonical([1, 'a', fromHex('abcd')]);
  t.equal(Object.getPrototypeOf(first), Uint8Array.prototype);
  t.equal(first.byteLength, first.buffer.byteLength, 'not a view into a shared buffer');
  const big = encodeCanonical([new Uint8Array(100_000).fill(7)]);
  const later = Array.from({ length: 500 }, (_, i) => encodeCanonical([i, 'x'.repeat(i % 40)]));
  t.equal(toHex(first), '83016161' + '42abcd');
  t.equal(big.byteLength, 100_006); // array head, byte-string head with a 4-byte length
  t.ok(big.subarray(6).every((b) => b === 7));
  later.forEach((bytes, i) => {
    if (toHex(bytes) !== toHex(encodeCanonical([i, 'x'.repeat(i % 40)])))
      t.fail(`encode ${i} was overwritten`);
  });
  t.same(decodeCanonical(later[499]!), [499, 'x'.repeat(499 % 40)]);
});

t.test('property: encoder output equals the independent reference encoding and is canonical', async (t) => {
  t.doesNotThrow(
    () =>
      fc.assert(
        fc.property(arbCborValue, (v) => {
          const e = encodeCanonical(v);
          return isCanonical(e) && toHex(e) === toHex(Uint8Array.from(refEncode(v)));
        }),
        { numRuns: propertyRuns(2000) },
      ),
    'encoder agrees with the reference',
  );
});

t.test(
  'property: values encoded between values larger than the arena still equal the reference',
  async (t) => {
    const big = [new Uint8Array(70 * 1024).fill(1), 'y'.repeat(70 * 1024)];
    t.doesNotThrow(
      () =>
        fc.assert(
          fc.property(fc.array(arbCborValue, { minLength: 1, maxLength: 5 }), (vs) => {
            const out = vs.map((v, i) => {
              if (i % 2 === 0) encodeCanonical(big);
              return encodeCanonical(v);
            });
            return vs.every((v, i) => toHex(out[i]!) === toHex(Uint8Array.from(refEncode(v))));
          }),
          { numRuns: propertyRuns(300) },
        ),
      'agrees with the reference',
    );
  },
);

t.test('property: decode(encode(v)) == v (up to the integer representation rule)', async (t) => {
  t.doesNotThrow(
    () =>
      fc.assert(
        fc.property(arbCborValue, (v) => sameValue(decodeCanonical(encodeCanonical(v)), normalise(v))),
        { numRuns: propertyRuns(2000) },
      ),
    'round trip holds',
  );
});

t.test(
  'property: random and mutated bytes only ever raise WireError, and accepted input is canonical',
  async (t) => {
    let accepted = 0;
    const check = (bytes: Uint8Array): boolean => {
      try {
        const v = decodeCanonical(bytes);
        accepted++;
        // Whatever the decoder accepts is canonical by the independent checker and re-encodes identically.
        return isCanonical(bytes) && toHex(encodeCanonical(v)) === toHex(bytes);
      } catch (e) {
        return e instanceof WireError;
      }
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), check), { numRuns: propertyRuns(5000) });
    const mutated = fc
      .tuple(
        arbCborValue,
        fc.array(fc.tuple(fc.nat(), fc.nat(255), fc.constantFrom('flip', 'set', 'cut', 'insert'))),
      )
      .map(([v, muts]) => {
        let b = Array.from(encodeCanonical(v));
        for (const [i, x, op] of muts) {
          const at = b.length === 0 ? 0 : i % b.length;
          if (op === 'flip' && b.length > 0) b[at]! ^= 1 << (x % 8);
          else if (op === 'set' && b.length > 0) b[at] = x;
          else if (op === 'cut') b = b.slice(0, at);
          else b.splice(at, 0, x);
        }
        return Uint8Array.from(b);
      });
    fc.assert(fc.property(mutated, check), { numRuns: propertyRuns(5000) });
    // Every well-formed input that the independent checker calls canonical must be accepted.
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), (b) => {
        if (isCanonical(b)) decodeCanonical(b); // throws (and fails the property) if rejected
        return true;
      }),
      { numRuns: propertyRuns(2000) },
    );
    t.ok(accepted > 0, `some fuzz inputs were valid (${accepted})`);
  },
);
