// verifyCommitOutcome on its own (the device's use of it: device-outcome.test.ts): what each outcome
// answer means, and that a tampered or incomplete one is PROOF_INVALID with the reason, never accepted.
// The fake ledger keeps a real state of receipts roots, certified with real keys.
import { signerFromSeed } from '@vigil/consensus/wire';
import t from 'tap';
import { Rng } from '../sim/prng.ts';
import { FakeLedger, type ProofJson } from '../testing/fake-node.ts';
import type { ProofResponse } from './api-client.ts';
import { type TrustedValidatorSet, verifyCommitOutcome } from './commit-trust.ts';
import { buildSubmitReadings } from './transactions.ts';

const CHAIN = 'vigil-test';
const rng = new Rng(77);
const hospital = [0, 1, 2, 3].map(() => signerFromSeed(rng.bytes(32)));
const strangers = [0, 1, 2, 3].map(() => signerFromSeed(rng.bytes(32)));
const sets: TrustedValidatorSet[] = [{ validators: hospital.map((v) => v.publicKey) }];
const device = signerFromSeed(rng.bytes(32));
const patient = signerFromSeed(rng.bytes(32)).publicKey;

/** A ledger keeping receipts roots, with transactions 1..n from the device (the `reject`ed ones rejected). */
function chain(n: number, reject: number[] = []) {
  const ledger = new FakeLedger(CHAIN);
  ledger.certifyWith(hospital);
  ledger.keepReceipts = true;
  ledger.citeMode = 'manual';
  const txs = Array.from({ length: n }, (_, i) => {
    const tx = buildSubmitReadings(
      { chainId: CHAIN, signer: device, nonce: i + 1, timestamp: 1_700_000_000_000 },
      patient,
      [{ kind: 1, value: 70 + i, measuredAt: 1_700_000_000_000 - 1000 + i }],
    );
    if (reject.includes(i)) ledger.rejectNext = { code: 'READING_NOT_INCREASING', count: 1 };
    ledger.admit(tx.bytes);
    return tx;
  });
  return { ledger, txs };
}

const check = (p: ProofJson | ProofResponse, tx: { bytes: Uint8Array; idHex: string }) =>
  verifyCommitOutcome(p as ProofResponse, {
    chainId: CHAIN,
    sets,
    txBytes: tx.bytes,
    expectedTxId: tx.idHex,
  });

/** The problemCode of what `f` throws (undefined if it does not throw). */
function reasonOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { problemCode?: string }).problemCode;
  }
  return undefined;
}

t.test('accepted, rejected, or absent until a certified header cites the state', async (t) => {
  const { ledger, txs } = chain(2, [1]);
  // Block 2 cites block 1's state; nothing cites block 2's yet.
  t.match(check(ledger.proof(txs[1]!.idHex)!, txs[1]!), { receipt: 'absent', inclusion: { height: 2 } });
  t.match(check(ledger.proof(txs[0]!.idHex)!, txs[0]!), { receipt: 'accepted', stateHeight: 1 });
  ledger.citeState();
  t.match(check(ledger.proof(txs[1]!.idHex)!, txs[1]!), {
    receipt: 'rejected',
    code: 'READING_NOT_INCREASING',
    stateHeight: 2,
  });
});

t.test('a tampered or incomplete outcome is PROOF_INVALID with its reason', async (t) => {
  const { ledger, txs } = chain(2);
  ledger.citeState();
  const p = ledger.proof(txs[0]!.idHex)!;
  const other = ledger.proof(txs[1]!.idHex)!;
  const o = p.outcome!;
  const cases: [string, ProofJson, string][] = [
    ['no receipt', { ...p, receipt: undefined }, 'MALFORMED_PROOF'],
    ['no receipts root', { ...p, receiptsRoot: undefined }, 'MALFORMED_PROOF'],
    ['another transaction’s receipt', { ...p, receipt: other.receipt }, 'RECEIPT_PROOF_INVALID'],
    [
      'another block’s receipts root and receipt',
      { ...p, receipt: other.receipt, receiptsRoot: other.receiptsRoot },
      'STATE_PROOF_INVALID',
    ],
    ['a state proof that is not one', { ...p, outcome: { ...o, stateProof: '00' } }, 'MALFORMED_PROOF'],
    ['a state header that is not one', { ...p, outcome: { ...o, header: '00' } }, 'WRONG_TYPE'],
    [
      'the state header of another block’s certificate',
      { ...p, outcome: { ...o, certificate: p.certificate } },
      'CERT_MISMATCH',
    ],
  ];
  for (const [what, bad, code] of cases) {
    t.throws(() => check(bad, txs[0]!), { code: 'PROOF_INVALID' }, what);
    t.equal(
      reasonOf(() => check(bad, txs[0]!)),
      code,
      `${what}: ${code}`,
    );
  }
});

t.test('the state header is checked against the set covering its own height', async (t) => {
  const { ledger, txs } = chain(1);
  ledger.certifyWith(strangers); // a new epoch from block 2, which cites block 1's state
  ledger.citeState();
  const p = ledger.proof(txs[0]!.idHex)!;
  const opts = { chainId: CHAIN, txBytes: txs[0]!.bytes, expectedTxId: txs[0]!.idHex };
  const old = { validators: hospital.map((v) => v.publicKey) };
  const next = { validators: strangers.map((v) => v.publicKey), fromHeight: 2 };
  t.throws(() => verifyCommitOutcome(p, { ...opts, sets: [{ ...old, untilHeight: 1 }] }), {
    code: 'PROOF_INVALID',
  });
  t.equal(
    reasonOf(() => verifyCommitOutcome(p, { ...opts, sets: [{ ...old, untilHeight: 1 }] })),
    'NO_TRUSTED_SET',
    'no provisioned set covers the state header',
  );
  t.throws(
    () => verifyCommitOutcome(p, { ...opts, sets: [old] }),
    { code: 'PROOF_INVALID' },
    'not by the old set',
  );
  t.match(verifyCommitOutcome(p, { ...opts, sets: [{ ...old, untilHeight: 1 }, next] }), {
    receipt: 'accepted',
  });
});
