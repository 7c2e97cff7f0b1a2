import {
  blockHash,
  type CommitVote,
  commitVoteSignBytes,
  encodeBlockHeader,
  encodeCommitCertificate,
  makeBlock,
  merkleInclusionProof,
  signerFromSeed,
  ZERO_HASH,
} from '@vigil/consensus/wire';
import t from 'tap';
import { Rng } from '../sim/prng.ts';
import { toHex } from '../util/hex.ts';
import type { ProofResponse } from './api-client.ts';
import { proofCoversBytes, verifyInclusionProof } from './proof.ts';
import { buildSubmitReadings } from './transactions.ts';

const CHAIN = 'vigil-test';
const rng = new Rng(11);
const validators = [0, 1, 2, 3].map(() => signerFromSeed(rng.bytes(32)));
const validatorKeys = validators.map((v) => v.publicKey);
const device = signerFromSeed(rng.bytes(32));
const patient = signerFromSeed(rng.bytes(32)).publicKey;

function fixture(voters = [0, 1, 2]) {
  const txs = [0, 1, 2, 3, 4].map((nonce) =>
    buildSubmitReadings(
      { chainId: CHAIN, signer: device, nonce: nonce + 1, timestamp: 1_700_000_000_000 },
      patient,
      [{ kind: 1, value: 70 + nonce, measuredAt: 1_700_000_000_000 - 1000 }],
    ),
  );
  const block = makeBlock(
    {
      version: 1,
      chainId: CHAIN,
      height: 9,
      view: 0,
      prevHash: ZERO_HASH,
      stateRoot: ZERO_HASH,
      stateHeight: 8,
      proposer: 1,
      timestamp: 1_700_000_000_500,
    },
    txs.map((x) => x.bytes),
  );
  const hash = blockHash(block.header);
  const votes = voters.map((v) => {
    const vote: CommitVote = { view: 0, height: 9, blockHash: hash, validator: v };
    return { validator: v, signature: validators[v]!.sign(commitVoteSignBytes(CHAIN, vote)) };
  });
  const cert = { height: 9, view: 0, blockHash: hash, votes };
  const index = 3;
  const response: ProofResponse = {
    tx: toHex(txs[index]!.bytes),
    index,
    proof: merkleInclusionProof(block.txs, index).map(toHex),
    header: toHex(encodeBlockHeader(block.header)),
    certificate: toHex(encodeCommitCertificate(cert)),
  };
  return { txs, response, index };
}

t.test('a genuine proof verifies and names the block and transaction', async (t) => {
  const { txs, response, index } = fixture();
  const v = verifyInclusionProof(response, {
    chainId: CHAIN,
    validators: validatorKeys,
    expectedTxId: txs[index]!.idHex,
  });
  t.equal(v.height, 9);
  t.equal(v.index, 3);
  t.equal(v.tx.nonce, 4);
  t.ok(proofCoversBytes(response, txs[index]!.bytes));
  t.notOk(proofCoversBytes(response, txs[0]!.bytes));
});

t.test('forgeries are rejected with PROOF_INVALID', async (t) => {
  const { txs, response, index } = fixture();
  const opts = { chainId: CHAIN, validators: validatorKeys };
  const reject = (p: ProofResponse, o = opts, msg = '') =>
    t.throws(() => verifyInclusionProof(p, o), { code: 'PROOF_INVALID' }, msg);
  reject({ ...response, index: 2 }, opts, 'wrong index');
  reject(
    { ...response, tx: toHex(txs[0]!.bytes) },
    opts,
    'another transaction of the same block at the wrong index',
  );
  reject({ ...response, proof: response.proof.slice(1) }, opts, 'truncated path');
  reject(
    { ...response, proof: response.proof.map((h, i) => (i === 0 ? 'ff' + h.slice(2) : h)) },
    opts,
    'tampered path',
  );
  reject({ ...response, proof: ['zz'] }, opts, 'not hex');
  reject(response, { chainId: 'other-chain', validators: validatorKeys }, 'other chain');
  const strangers = [0, 1, 2, 3].map(() => signerFromSeed(rng.bytes(32)).publicKey);
  reject(response, { chainId: CHAIN, validators: strangers }, 'signed by a different validator set');
  reject(fixture([0, 1]).response, opts, 'two of four votes is not a quorum');
  try {
    verifyInclusionProof(fixture([0, 1]).response, opts);
  } catch (e) {
    t.equal((e as { problemCode?: string }).problemCode, 'CERT_NO_QUORUM', 'the underlying reason is kept');
  }
  t.throws(
    () => verifyInclusionProof(response, { ...opts, expectedTxId: txs[0]!.idHex }),
    { code: 'PROOF_INVALID' },
    'proof of a different transaction than the one asked about',
  );
  t.equal(index, 3);
});

t.test('signBody ids agree with wire.transactionId and the bytes round-trip', async (t) => {
  const { txs } = fixture();
  const { decodeTransaction, transactionId, verifyTransactionSignature, referenceVerifier } = await import(
    '@vigil/consensus/wire'
  );
  for (const s of txs) {
    const back = decodeTransaction(s.bytes, { chainId: CHAIN });
    t.equal(toHex(transactionId(back)), s.idHex);
    t.ok(verifyTransactionSignature(back, referenceVerifier));
  }
});

t.test('a response without the bytes verifies with the bytes the caller holds', async (t) => {
  const { txs, response, index } = fixture();
  const { tx: _served, ...withheld } = response;
  const opts = { chainId: CHAIN, validators: validatorKeys, expectedTxId: txs[index]!.idHex };
  t.equal(verifyInclusionProof(withheld, { ...opts, txBytes: txs[index]!.bytes }).index, 3);
  t.notOk(proofCoversBytes(withheld, txs[index]!.bytes), 'it carries no bytes to compare');
  t.throws(() => verifyInclusionProof(withheld, opts), { code: 'PROOF_INVALID' }, 'no bytes at all');
  t.throws(
    () => verifyInclusionProof(withheld, { ...opts, expectedTxId: undefined, txBytes: txs[0]!.bytes }),
    { code: 'PROOF_INVALID' },
    'bytes of another transaction of the block',
  );
  t.throws(
    () => verifyInclusionProof(response, { ...opts, txBytes: txs[0]!.bytes }),
    { code: 'PROOF_INVALID' },
    'served bytes differ from the held ones',
  );
});
