import fc from 'fast-check';
import t from 'tap';
import {
  arbSignatureCase,
  honestSignature,
  mixedOrderKeyCase,
  NON_CANONICAL_ENCODINGS,
  RFC8032_VECTORS,
  rfcVector,
  SMALL_ORDER_ENCODINGS,
  smallOrderKeyCase,
  smallOrderRCase,
  sPlusL,
  testKey,
  withR,
} from './ed25519-testkit.ts';
import * as ed from '@noble/ed25519';
import {
  buildMultiplicationTable,
  ed25519Precheck,
  multiplyWithTable,
  referenceVerifier,
  SMALL_ORDER_Y_ENCODINGS,
  signerFromSeed,
} from './ed25519.ts';
import { toHex } from './hash.ts';
import { expectWireError, propertyRuns } from './test-support.ts';

const verify = referenceVerifier.verify;

t.test(
  'RFC 8032 §7.1 vectors: signerFromSeed reproduces them and the reference verifier accepts them',
  async (t) => {
    for (let i = 0; i < RFC8032_VECTORS.length; i++) {
      const v = rfcVector(i);
      const name = RFC8032_VECTORS[i]!.name;
      const signer = signerFromSeed(v.secret);
      t.equal(toHex(signer.publicKey), toHex(v.publicKey), `${name}: public key`);
      t.equal(toHex(signer.sign(v.message)), toHex(v.signature), `${name}: signature`);
      t.ok(verify(v.signature, v.message, v.publicKey), `${name}: verifies`);
      t.notOk(verify(sPlusL(v.signature), v.message, v.publicKey), `${name}: S + L rejected`);
    }
    t.equal(rfcVector(3).message.length, 1023, 'TEST 1024 message is 1023 bytes');
  },
);

t.test('the small-order y table is the 5 y values of the 8 torsion points', async (t) => {
  t.same(SMALL_ORDER_Y_ENCODINGS.map(toHex).sort(), [
    '0000000000000000000000000000000000000000000000000000000000000000',
    '0100000000000000000000000000000000000000000000000000000000000000',
    '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
    'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  ]);
});

t.test('acceptance rule, edge case by edge case', async (t) => {
  const key = testKey(new Uint8Array(32).fill(9));
  const msg = new TextEncoder().encode('vigil');
  const sig = honestSignature(key, msg);
  t.ok(verify(sig, msg, key.publicKey), 'honest signature');
  t.notOk(verify(sPlusL(sig), msg, key.publicKey), 'S + L (malleated S)');
  for (const enc of SMALL_ORDER_ENCODINGS) {
    t.notOk(
      verify(sig, msg, enc),
      `small-order key encoding ${toHex(enc).slice(0, 8)}..${toHex(enc).slice(62)}`,
    );
    t.notOk(verify(withR(sig, enc), msg, key.publicKey), `small-order R encoding ${toHex(enc).slice(0, 8)}`);
  }
  for (const enc of NON_CANONICAL_ENCODINGS) {
    t.notOk(verify(sig, msg, enc), `non-canonical key ${toHex(enc).slice(0, 4)}..${toHex(enc).slice(62)}`);
    t.notOk(verify(withR(sig, enc), msg, key.publicKey), `non-canonical R ${toHex(enc).slice(0, 4)}`);
  }
  for (let i = 0; i < 8; i++) {
    const c = smallOrderKeyCase(i, 12345n + BigInt(i), i);
    t.notOk(verify(c.signature, c.message, c.publicKey), `${c.label}: satisfies the equation, rejected`);
    const r = smallOrderRCase(key, i, i);
    t.notOk(verify(r.signature, r.message, r.publicKey), `${r.label}: satisfies the equation, rejected`);
  }
  // Mixed-order keys are decided by the cofactorless equation: accepted exactly when [k]T = 0.
  let accepted = 0;
  let rejected = 0;
  for (let i = 0; i < 64; i++) {
    const c = mixedOrderKeyCase(key, 1 + (i % 7), new Uint8Array([i]), BigInt(1000 + i));
    t.equal(verify(c.signature, c.message, c.publicKey), c.expected, `${c.label} #${i}`);
    if (c.expected) accepted++;
    else rejected++;
  }
  t.ok(accepted > 0 && rejected > 0, `mixed-order keys: both outcomes occur (${accepted}/${rejected})`);
  t.notOk(verify(sig.subarray(0, 63), msg, key.publicKey), '63-byte signature');
  t.notOk(verify(new Uint8Array([...sig, 0]), msg, key.publicKey), '65-byte signature');
  t.notOk(verify(sig, msg, key.publicKey.subarray(0, 31)), '31-byte key');
  t.notOk(verify('x' as unknown as Uint8Array, msg, key.publicKey), 'not bytes');
});

t.test('signerFromSeed rejects a seed that is not 32 bytes', async (t) => {
  expectWireError(t, () => signerFromSeed(new Uint8Array(31)), 'WRONG_TYPE', '31-byte seed');
});

t.test('property: the reference verifier answers what each construction determines', async (t) => {
  const keys = [1, 2, 3, 4].map((b) => testKey(new Uint8Array(32).fill(b)));
  fc.assert(
    fc.property(arbSignatureCase(keys), (c) => {
      const got = verify(c.signature, c.message, c.publicKey);
      // The byte pre-check never rejects what the full rule accepts.
      if (got && !ed25519Precheck(c.signature, c.publicKey)) return false;
      return c.expected === undefined || got === c.expected;
    }),
    { numRuns: propertyRuns(300) },
  );
  t.pass('reference verifier matches every constructed expectation');
});

t.test('property: the byte pre-check is exactly steps 1-5 computed on numbers', async (t) => {
  const { n: L, p: P } = ed.Point.CURVE();
  const le = (b: Uint8Array) => b.reduceRight((x, v) => (x << 8n) | BigInt(v), 0n);
  const mask = (1n << 255n) - 1n;
  const smallY = SMALL_ORDER_Y_ENCODINGS.map(le);
  // Steps 2-5 as the rule states them (RFC 8032 §5.1.3, §5.1.7), on BigInts.
  const byNumbers = (sig: Uint8Array, key: Uint8Array) =>
    le(sig.subarray(32)) < L &&
    (le(key) & mask) < P &&
    !smallY.includes(le(key) & mask) &&
    !smallY.includes(le(sig.subarray(0, 32)) & mask);
  const bytesOf = (x: bigint) => {
    const out = new Uint8Array(32);
    for (let i = 0; i < 32; i++) out[i] = Number((x >> BigInt(8 * i)) & 0xffn);
    return out;
  };
  // The boundaries of each comparison, with and without the sign bit, and each small-order y.
  const near = [0n, 1n, L - 1n, L, L + 1n, P - 1n, P, P + 1n, (1n << 255n) - 1n, (1n << 256n) - 1n];
  const edges = [
    ...near,
    ...near.map((x) => x ^ (1n << 255n)),
    ...smallY,
    ...smallY.map((y) => y | (1n << 255n)),
  ]
    .filter((x) => x >= 0n && x < 1n << 256n)
    .map(bytesOf);
  const honest = honestSignature(testKey(new Uint8Array(32).fill(5)), new Uint8Array([1]));
  let cases = 0;
  for (const r of [honest.subarray(0, 32), ...edges])
    for (const s of [honest.subarray(32), ...edges])
      for (const key of [testKey(new Uint8Array(32).fill(5)).publicKey, ...edges]) {
        const sig = new Uint8Array(64);
        sig.set(r, 0);
        sig.set(s, 32);
        if (ed25519Precheck(sig, key) !== byNumbers(sig, key)) t.fail(`differs: ${toHex(sig)} ${toHex(key)}`);
        cases++;
      }
  // Random bytes, and numbers near the limits that differ from them in low bytes only.
  const arbNear = fc
    .tuple(fc.constantFrom(...near, ...smallY), fc.bigInt({ min: -65_536n, max: 65_536n }), fc.boolean())
    .map(([x, d, sign]) => {
      const v = (x + d + (1n << 256n)) % (1n << 256n);
      return bytesOf(sign ? v ^ (1n << 255n) : v);
    });
  const arb32 = fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), arbNear);
  fc.assert(
    fc.property(arb32, arb32, arb32, (r, s, key) => {
      const sig = new Uint8Array(64);
      sig.set(r, 0);
      sig.set(s, 32);
      return ed25519Precheck(sig, key) === byNumbers(sig, key);
    }),
    { numRuns: propertyRuns(2_000) },
  );
  t.ok(cases > 10_000, `${cases} boundary combinations agree`);
});

t.test('property: the per-key multiplication table computes exactly [k]A', async (t) => {
  const { n: L } = ed.Point.CURVE();
  const points = [
    ed.Point.BASE.multiply(987654321n),
    ed.Point.BASE.multiply(L - 2n).add(
      ed.Point.fromHex('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05'),
    ),
  ];
  const tables = points.map(buildMultiplicationTable);
  for (const k of [0n, 1n, 7n, 8n, 15n, 16n, 255n, 256n, (1n << 252n) - 1n, L - 1n]) {
    for (const [i, p] of points.entries()) {
      t.ok(multiplyWithTable(tables[i]!, k).equals(p.multiplyUnsafe(k)), `point ${i}, k = ${k}`);
    }
  }
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: L - 1n }), fc.nat(1), (k, i) =>
      multiplyWithTable(tables[i]!, k).equals(points[i]!.multiplyUnsafe(k)),
    ),
    { numRuns: propertyRuns(200) },
  );
  // The cached path inside the verifier: a key verified many times keeps giving the same answers.
  const key = testKey(new Uint8Array(32).fill(0x33));
  const msgs = [0, 1, 2, 3, 4].map((i) => new Uint8Array([i]));
  for (let round = 0; round < 3; round++) {
    msgs.forEach((m) => {
      t.ok(verify(honestSignature(key, m), m, key.publicKey), `round ${round}: valid`);
      t.notOk(
        verify(honestSignature(key, m), Uint8Array.of(9, ...m), key.publicKey),
        `round ${round}: wrong message`,
      );
    });
  }
});
