// Test support for Ed25519 verifiers (not public API): RFC 8032 vectors and crafted signatures for the
// edge cases where implementations disagree ("Taming the many EdDSAs", Chalkias et al., SSR 2020).
// Used by ed25519.test.ts (reference verifier) and node/src/crypto/fast-verifier.test.ts (agreement).
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { concatBytes, fromHex } from './hash.ts';

ed.hashes.sha512 = sha512;

const { n: L, p: P } = ed.Point.CURVE();

export interface SigCase {
  label: string;
  signature: Uint8Array;
  message: Uint8Array;
  publicKey: Uint8Array;
  /** What the Vigil rule must answer, when the construction determines it. */
  expected?: boolean;
}

function le(b: Uint8Array): bigint {
  let x = 0n;
  for (let i = b.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i]!);
  return x;
}

export function leBytes(x: bigint, n = 32): Uint8Array {
  const o = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    o[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return o;
}

function challenge(r: Uint8Array, a: Uint8Array, m: Uint8Array): bigint {
  return le(sha512(concatBytes(r, a, m))) % L;
}

/** RFC 8032 §7.1 test vectors (Ed25519): TEST 1, 2, 3, 1024 and SHA(abc). */
export const RFC8032_VECTORS: readonly {
  name: string;
  secret: string;
  publicKey: string;
  message: string;
  signature: string;
}[] = [
  {
    name: 'TEST 1',
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2',
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'TEST 3',
    secret: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    publicKey: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
  {
    name: 'TEST 1024',
    secret: 'f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5',
    publicKey: '278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e',
    message:
      '08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc103b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed185ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f27088d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089beccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128bab27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969be3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb751fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988dcda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34dff7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e488acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac0943bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5fb93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f1610e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380db2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8cac60c905c15fc910840b94c00a0b9d0',
    signature:
      '0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03',
  },
  {
    name: 'TEST SHA(abc)',
    secret: '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42',
    publicKey: 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    message:
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    signature:
      'dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704',
  },
];

/** The 8 points of order dividing 8: TORSION[i] = [i]T8, TORSION[0] = identity. */
export const TORSION: readonly ed.Point[] = (() => {
  const t8 = ed.Point.fromHex('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05');
  const out: ed.Point[] = [];
  let q = ed.Point.ZERO;
  for (let i = 0; i < 8; i++) {
    out.push(q);
    q = q.add(t8);
  }
  return out;
})();

/** [k]T_i = T_{(i·k) mod 8}: torsion arithmetic by index, far cheaper than a scalar multiplication. */
export function torsionMul(i: number, k: bigint): number {
  return Number((BigInt(i) * (k % 8n)) % 8n);
}

/** -T_i = T_{(8 - i) mod 8}. */
function torsionNeg(i: number): number {
  return (8 - i) % 8;
}

/** Every 32-byte string that names a small-order point under some decoder: canonical, sign-flipped, y+p. */
export const SMALL_ORDER_ENCODINGS: readonly Uint8Array[] = (() => {
  const out: Uint8Array[] = [];
  for (const t of TORSION) {
    const y = t.toAffine().y;
    for (const yy of y + P < 1n << 255n ? [y, y + P] : [y]) {
      for (const sign of [0, 0x80]) {
        const b = leBytes(yy);
        b[31]! |= sign;
        if (!out.some((o) => o.every((x, i) => x === b[i]))) out.push(b);
      }
    }
  }
  return out;
})();

/** Non-canonical point encodings: y in [p, 2^255) (i.e. y' + p for y' < 19), both sign bits. */
export const NON_CANONICAL_ENCODINGS: readonly Uint8Array[] = (() => {
  const out: Uint8Array[] = [];
  for (let y = P; y < 1n << 255n; y++) {
    for (const sign of [0, 0x80]) {
      const b = leBytes(y);
      b[31]! |= sign;
      out.push(b);
    }
  }
  return out;
})();

export interface TestKey {
  seed: Uint8Array;
  scalar: bigint;
  publicKey: Uint8Array;
}

export function testKey(seed: Uint8Array): TestKey {
  const ext = ed.utils.getExtendedPublicKey(seed);
  return { seed, scalar: ext.scalar, publicKey: ext.pointBytes };
}

export function honestSignature(key: TestKey, message: Uint8Array): Uint8Array {
  return ed.sign(message, key.seed);
}

/**
 * A key A' = aB + T_t of mixed order and an "honest" cofactorless signature with the scalar a:
 * R = rB, S = r + k·a. Then [S]B - [k]A' = R - [k]T_t, which equals R iff [k]T_t = 0, so a
 * cofactorless verifier accepts it for a fraction of messages (1/order(T_t)) and rejects the rest.
 */
export function mixedOrderKeyCase(key: TestKey, t: number, message: Uint8Array, r: bigint): SigCase {
  const tp = TORSION[t % 8]!;
  const pk = ed.Point.BASE.multiply(key.scalar).add(tp).toBytes();
  const rb = ed.Point.BASE.multiply((r % (L - 1n)) + 1n).toBytes();
  const k = challenge(rb, pk, message);
  const s = ((r % (L - 1n)) + 1n + k * key.scalar) % L;
  return {
    label: `mixed-order key (T${t % 8})`,
    signature: concatBytes(rb, leBytes(s)),
    message,
    publicKey: pk,
    expected: torsionMul(t % 8, k) === 0,
  };
}

/**
 * A signature whose R is the small-order point T_j, valid under the cofactorless equation, for the
 * mixed-order key aB + T_1: S = k·a gives [S]B - [k]A' = -[k]T_1, so search messages until -[k]T_1 = T_j.
 * The rule rejects it (step 5), as OpenSSL does.
 */
export function smallOrderRCase(key: TestKey, j: number, salt: number): SigCase {
  const pk = ed.Point.BASE.multiply(key.scalar).add(TORSION[1]!).toBytes();
  const rb = TORSION[j % 8]!.toBytes();
  for (let m = 0; ; m++) {
    const message = new TextEncoder().encode(`small-order R ${salt}/${m}`);
    const k = challenge(rb, pk, message);
    if (torsionNeg(torsionMul(1, k)) === j % 8) {
      return {
        label: `small-order R (T${j % 8})`,
        signature: concatBytes(rb, leBytes((k * key.scalar) % L)),
        message,
        publicKey: pk,
        expected: false,
      };
    }
  }
}

/**
 * A signature that satisfies the cofactorless equation for the small-order key T_i: pick S, guess
 * c = k mod 8, set R = [S]B - [c]T_i and search until [k]T_i = [c]T_i. The rule rejects it (step 4).
 */
export function smallOrderKeyCase(i: number, s: bigint, salt: number): SigCase {
  const pk = TORSION[i % 8]!.toBytes();
  const sb = ed.Point.BASE.multiplyUnsafe(s % L);
  for (let m = 0; ; m++) {
    const c = BigInt(m % 8);
    const rb = sb.subtract(TORSION[torsionMul(i % 8, c)]!).toBytes();
    const message = new TextEncoder().encode(`small-order A ${salt}/${m}`);
    const k = challenge(rb, pk, message);
    if (torsionMul(i % 8, k) === torsionMul(i % 8, c)) {
      return {
        label: `small-order key (T${i % 8})`,
        signature: concatBytes(rb, leBytes(s % L)),
        message,
        publicKey: pk,
        expected: false,
      };
    }
  }
}

/** The same signature with S replaced by S + L (the classic malleation; must be rejected, step 2). */
export function sPlusL(signature: Uint8Array): Uint8Array {
  const s = le(signature.subarray(32, 64)) + L;
  return concatBytes(signature.subarray(0, 32), leBytes(s));
}

/** Replace R with a non-canonical encoding of the same point, when R has one (y < 19). */
export function withR(signature: Uint8Array, r: Uint8Array): Uint8Array {
  return concatBytes(r, signature.subarray(32, 64));
}

const KINDS = [
  'valid',
  'flip-sig',
  'flip-msg',
  'flip-key',
  's-plus-l',
  'noncanonical-key',
  'noncanonical-r',
  'small-order-key-encoding',
  'small-order-key-crafted',
  'small-order-r',
  'small-order-r-crafted',
  'mixed-order-key',
  'wrong-length',
  'random',
] as const;

/**
 * A fast-check arbitrary over signature cases of every kind above. `keys` is a small pool of keys
 * (deriving a key per case would dominate the run time).
 */
export function arbSignatureCase(keys: readonly TestKey[]): fc.Arbitrary<SigCase> {
  return fc
    .record({
      kind: fc.constantFrom(...KINDS),
      key: fc.nat(keys.length - 1),
      message: fc.uint8Array({ maxLength: 80 }),
      bit: fc.nat(),
      n: fc.nat(),
      scalar: fc.bigInt({ min: 1n, max: L - 1n }),
      raw: fc.uint8Array({ minLength: 64, maxLength: 64 }),
      rawKey: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      len: fc.constantFrom(0, 31, 33, 63, 65),
    })
    .map(({ kind, key: ki, message, bit, n, scalar, raw, rawKey, len }): SigCase => {
      const key = keys[ki]!;
      const sig = (): Uint8Array => honestSignature(key, message);
      const flip = (b: Uint8Array): Uint8Array => {
        const c = Uint8Array.from(b);
        if (c.length > 0) c[Math.floor(bit / 8) % c.length]! ^= 1 << (bit % 8);
        return c;
      };
      switch (kind) {
        case 'valid':
          return { label: kind, signature: sig(), message, publicKey: key.publicKey, expected: true };
        case 'flip-sig':
          return { label: kind, signature: flip(sig()), message, publicKey: key.publicKey, expected: false };
        case 'flip-msg':
          return {
            label: kind,
            signature: sig(),
            message: message.length > 0 ? flip(message) : Uint8Array.of(1),
            publicKey: key.publicKey,
            expected: false,
          };
        case 'flip-key':
          return { label: kind, signature: sig(), message, publicKey: flip(key.publicKey), expected: false };
        case 's-plus-l':
          return {
            label: kind,
            signature: sPlusL(sig()),
            message,
            publicKey: key.publicKey,
            expected: false,
          };
        case 'noncanonical-key':
          return {
            label: kind,
            signature: raw,
            message,
            publicKey: NON_CANONICAL_ENCODINGS[n % NON_CANONICAL_ENCODINGS.length]!,
            expected: false,
          };
        case 'noncanonical-r':
          return {
            label: kind,
            signature: withR(sig(), NON_CANONICAL_ENCODINGS[n % NON_CANONICAL_ENCODINGS.length]!),
            message,
            publicKey: key.publicKey,
            expected: false,
          };
        case 'small-order-key-encoding':
          return {
            label: kind,
            signature: raw,
            message,
            publicKey: SMALL_ORDER_ENCODINGS[n % SMALL_ORDER_ENCODINGS.length]!,
            expected: false,
          };
        case 'small-order-key-crafted':
          return smallOrderKeyCase(n, scalar, bit);
        case 'small-order-r':
          return {
            label: kind,
            signature: withR(sig(), SMALL_ORDER_ENCODINGS[n % SMALL_ORDER_ENCODINGS.length]!),
            message,
            publicKey: key.publicKey,
            expected: false,
          };
        case 'small-order-r-crafted':
          return smallOrderRCase(key, n, bit);
        case 'mixed-order-key':
          return mixedOrderKeyCase(key, n, message, scalar);
        case 'wrong-length':
          return bit % 2 === 0
            ? {
                label: kind,
                signature: raw.subarray(0, len),
                message,
                publicKey: key.publicKey,
                expected: false,
              }
            : {
                label: kind,
                signature: sig(),
                message,
                publicKey: rawKey.subarray(0, len % 33),
                expected: false,
              };
        case 'random':
          return { label: kind, signature: raw, message, publicKey: rawKey };
        default:
          throw new TypeError(`unknown case kind ${String(kind)}`);
      }
    });
}

export function rfcVector(i: number): {
  signature: Uint8Array;
  message: Uint8Array;
  publicKey: Uint8Array;
  secret: Uint8Array;
} {
  const v = RFC8032_VECTORS[i]!;
  return {
    signature: fromHex(v.signature),
    message: fromHex(v.message),
    publicKey: fromHex(v.publicKey),
    secret: fromHex(v.secret),
  };
}
