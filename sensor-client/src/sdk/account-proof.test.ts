// verifyAccountNonce on its own (the device's use of it: device-nonce.test.ts): a served account nonce
// is believed only as the state a certified header cites shows it, and hostile answers are PROOF_INVALID
// with their reason, never a nonce. The fake ledger keeps a real sparse-Merkle state of account nonces,
// certified with real keys.
import { encodeCanonical, signerFromSeed } from '@vigil/consensus/wire';
import fc from 'fast-check';
import t from 'tap';
import { Rng } from '../sim/prng.ts';
import { FakeLedger, type StateProofJson } from '../testing/fake-node.ts';
import { toHex } from '../util/hex.ts';
import { accountNonceKeyHex, verifyAccountNonce } from './account-proof.ts';
import type { TrustedValidatorSet } from './commit-trust.ts';
import { SdkError } from './errors.ts';
import { buildSubmitReadings } from './transactions.ts';

const CHAIN = 'vigil-test';
const T = 1_700_000_000_000;
const rng = new Rng(131);
const hospital = [0, 1, 2, 3].map(() => signerFromSeed(rng.bytes(32)));
const strangers = [0, 1, 2, 3].map(() => signerFromSeed(rng.bytes(32)));
const sets: TrustedValidatorSet[] = [{ validators: hospital.map((v) => v.publicKey) }];
const device = signerFromSeed(rng.bytes(32));
const other = signerFromSeed(rng.bytes(32));
const patient = signerFromSeed(rng.bytes(32)).publicKey;
const KEY = accountNonceKeyHex(device.publicKey);

/** A ledger with a real state, certified by `by`, on which the device committed `n` transactions. */
function chain(
  n: number,
  opts: { by?: typeof hospital; chainId?: string; cite?: 'immediate' | 'manual' } = {},
) {
  const chainId = opts.chainId ?? CHAIN;
  const ledger = new FakeLedger(chainId);
  ledger.certifyWith(opts.by ?? hospital);
  ledger.keepReceipts = true;
  ledger.citeMode = opts.cite ?? 'immediate';
  const submit = (signer: typeof device, nonce: number) =>
    ledger.admit(
      buildSubmitReadings({ chainId, signer, nonce, timestamp: T }, patient, [
        { kind: 1, value: 70 + nonce, measuredAt: T - 1000 + nonce },
      ]).bytes,
    );
  for (let i = 1; i <= n; i++) submit(device, i);
  return { ledger, submit };
}

const verify = (p: StateProofJson, s: readonly TrustedValidatorSet[] = sets, chainId = CHAIN) =>
  verifyAccountNonce(p, { chainId, sets: s, publicKey: device.publicKey });

/** The problemCode of what `f` throws (undefined if it does not throw). */
function reasonOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { problemCode?: string }).problemCode;
  }
  return undefined;
}

t.test('the certified nonce, and 0 for an account that never sent', async (t) => {
  const { ledger } = chain(3);
  t.match(verify(ledger.stateProof(KEY)!), { nonce: 3, height: ledger.height });
  const fresh = accountNonceKeyHex(other.publicKey);
  t.equal(
    verifyAccountNonce(ledger.stateProof(fresh)!, { chainId: CHAIN, sets, publicKey: other.publicKey }).nonce,
    0,
    'its absence is proven',
  );
});

t.test('a lower bound: the state a header cites lags the newest block', async (t) => {
  const { ledger, submit } = chain(1, { cite: 'manual' });
  submit(device, 2); // block 2 (nonce 2) is committed, but no header cites the state after it yet
  t.match(verify(ledger.stateProof(KEY)!), { nonce: 1, stateHeight: 1 });
  ledger.citeState();
  t.match(verify(ledger.stateProof(KEY)!), { nonce: 2, stateHeight: 2 });
  t.match(verify(ledger.stateProof(KEY, 1)!), { nonce: 0, stateHeight: 0 }, 'an old header: an old state');
});

t.test('hostile or wrong answers are PROOF_INVALID with their reason', async (t) => {
  const { ledger, submit } = chain(2);
  submit(other, 1);
  const p = ledger.stateProof(KEY)!;
  const theirs = ledger.stateProof(accountNonceKeyHex(other.publicKey))!;
  const cases: [string, StateProofJson, string][] = [
    ['another account’s proof', theirs, 'WRONG_KEY'],
    ['another account’s proof under our key', { ...theirs, key: KEY }, 'STATE_PROOF_INVALID'],
    ['a higher value than proven', { ...p, value: toHex(encodeCanonical(9)) }, 'STATE_PROOF_INVALID'],
    ['absence claimed for a present key', { ...p, value: null }, 'STATE_PROOF_INVALID'],
    ['a value that is not a canonical uint', { ...p, value: '1802' }, 'MALFORMED_PROOF'],
    ['a value that is not a number', { ...p, value: toHex(encodeCanonical('2')) }, 'MALFORMED_PROOF'],
    ['a value that is not hex', { ...p, value: 'zz' }, 'MALFORMED_PROOF'],
    ['a proof that is not one', { ...p, proof: '00' }, 'MALFORMED_PROOF'],
    ['a header that is not one', { ...p, header: 'ff' }, 'MALFORMED'],
    [
      'another block’s certificate',
      { ...p, certificate: ledger.stateProof(KEY, 1)!.certificate },
      'CERT_MISMATCH',
    ],
  ];
  for (const [what, bad, code] of cases) {
    t.throws(() => verify(bad), { code: 'PROOF_INVALID' }, what);
    t.equal(
      reasonOf(() => verify(bad)),
      code,
      `${what}: ${code}`,
    );
  }
  t.equal(
    reasonOf(() => verify(p, [{ ...sets[0]!, fromHeight: 1_000 }])),
    'NO_TRUSTED_SET',
  );
  t.equal(
    reasonOf(() => verify(p, sets, 'another-chain')),
    'WRONG_CHAIN',
  );
});

t.test('a quorum of strangers proves nothing; an epoch’s own set does', async (t) => {
  const { ledger } = chain(2, { by: strangers });
  t.match(
    reasonOf(() => verify(ledger.stateProof(KEY)!)),
    /^CERT_/,
  );
  ledger.certifyWith(hospital); // a new epoch: blocks from here on are certified by the hospital
  ledger.citeState();
  const h = ledger.height;
  const epochs = [
    { validators: strangers.map((v) => v.publicKey), untilHeight: h - 1 },
    { ...sets[0]!, fromHeight: h },
  ];
  t.match(verify(ledger.stateProof(KEY)!, epochs), { nonce: 2, height: h });
});

t.test('any single-byte change of a genuine answer: PROOF_INVALID or the same nonce', async (t) => {
  const { ledger } = chain(3);
  const p = ledger.stateProof(KEY)!;
  const fields = ['value', 'proof', 'header', 'certificate'] as const;
  let refused = 0;
  fc.assert(
    fc.property(fc.constantFrom(...fields), fc.nat(), fc.integer({ min: 1, max: 255 }), (f, at, x) => {
      const bytes = Buffer.from(p[f]!, 'hex');
      bytes[at % bytes.length]! ^= x;
      try {
        return verify({ ...p, [f]: bytes.toString('hex') }).nonce === 3;
      } catch (e) {
        refused++;
        return e instanceof SdkError && e.code === 'PROOF_INVALID' && e.problemCode !== undefined;
      }
    }),
    { numRuns: 400 },
  );
  t.ok(refused > 0, 'changes were refused, none read as another nonce');
});
