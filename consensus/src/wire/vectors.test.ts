import t from 'tap';
import vectors from '../../../docs/vectors/wire-v1.json' with { type: 'json' };
import { blockHash, decodeBlock, decodeBlockHeader } from './block.ts';
import { decodeCanonical } from './cbor.ts';
import { decodeCommitCertificate, verifyCommitCertificate } from './certificate.ts';
import { referenceVerifier, signerFromSeed } from './ed25519.ts';
import { concatBytes, fromHex, sha256, toHex } from './hash.ts';
import { merkleInclusionProof, merkleRoot, verifyMerkleInclusion } from './merkle.ts';
import { expectWireError } from './test-support.ts';
import { decodeTransaction, transactionId, verifyTransactionSignature } from './transaction.ts';
import { buildWireVectors, toJsonCbor } from './vectors.ts';
import { decodeReceiptBytes, encodeReceiptBytes, receiptsRootKey } from '../proof/receipts.ts';
import { verifySparseMerkleProof } from '../proof/smt.ts';

t.test('the committed vectors are exactly what the code generates (format unchanged)', async (t) => {
  t.same(JSON.parse(JSON.stringify(buildWireVectors())), vectors);
});

t.test('keys derive from the published seeds', async (t) => {
  for (const k of [vectors.keys.device, vectors.keys.patient, ...vectors.keys.validators]) {
    t.equal(toHex(signerFromSeed(fromHex(k.seed)).publicKey), k.publicKey);
  }
});

t.test('transactions: decode, ids and signatures follow the specification', async (t) => {
  for (const v of vectors.transactions) {
    const tx = decodeTransaction(fromHex(v.encoded), { chainId: vectors.chainId });
    t.equal(tx.type, v.fields.type);
    t.equal(toHex(tx.sender), v.fields.sender);
    t.equal(tx.nonce, v.fields.nonce);
    t.equal(tx.timestamp, v.fields.timestamp);
    t.same(toJsonCbor(tx.body), v.fields.body);
    // Signing payload built by hand from docs/protocol.md §4: domain || 00 || len(chainId) || chainId || cbor.
    const chain = new TextEncoder().encode(vectors.chainId);
    const manual = concatBytes(
      new TextEncoder().encode('vigil/tx/v1'),
      Uint8Array.of(0, chain.length),
      chain,
      fromHex(v.unsignedCbor),
    );
    t.equal(toHex(manual), v.signingPayload, `${v.name}: signing payload`);
    t.equal(toHex(sha256(manual)), v.txId, `${v.name}: id = SHA-256(signing payload)`);
    t.equal(toHex(transactionId(tx)), v.txId);
    t.ok(
      referenceVerifier.verify(fromHex(v.signature), manual, tx.sender),
      `${v.name}: signature over the payload`,
    );
    t.ok(verifyTransactionSignature(tx, referenceVerifier));
    // The encoding is the unsigned array with the signature appended: header 0x88 instead of 0x87.
    t.equal(v.encoded.slice(0, 2), '88');
    t.equal(v.unsignedCbor.slice(0, 2), '87');
    t.ok(v.encoded.startsWith(`88${v.unsignedCbor.slice(2)}5840`), 'signature is the 8th element');
  }
});

t.test('Merkle root, proofs, header, block and certificate', async (t) => {
  const leaves = vectors.merkle.leaves.map(fromHex);
  t.equal(toHex(merkleRoot(leaves)), vectors.merkle.root);
  t.equal(
    vectors.merkle.root,
    toHex(sha256(Uint8Array.of(1), ...vectors.merkle.leafHashes.map(fromHex))),
    '2-leaf root = SHA-256(01 || H(00||tx1) || H(00||tx2))',
  );
  leaves.forEach((leaf, i) => {
    t.same(merkleInclusionProof(leaves, i).map(toHex), vectors.merkle.proofs[i]);
    t.ok(
      verifyMerkleInclusion(
        leaf,
        i,
        leaves.length,
        vectors.merkle.proofs[i]!.map(fromHex),
        fromHex(vectors.merkle.root),
      ),
    );
  });
  const header = decodeBlockHeader(fromHex(vectors.blockHeader.encoded), { chainId: vectors.chainId });
  t.same(
    {
      ...header,
      prevHash: toHex(header.prevHash),
      txRoot: toHex(header.txRoot),
      stateRoot: toHex(header.stateRoot),
    },
    vectors.blockHeader.fields,
  );
  t.equal(toHex(sha256(fromHex(vectors.blockHeader.encoded))), vectors.blockHeader.hash);
  t.equal(toHex(blockHash(header)), vectors.blockHeader.hash);
  const block = decodeBlock(fromHex(vectors.block.encoded));
  t.same(block.txs.map(toHex), vectors.merkle.leaves);
  const cert = decodeCommitCertificate(fromHex(vectors.commitCertificate.encoded));
  const keys = vectors.keys.validators.map((v) => fromHex(v.publicKey));
  verifyCommitCertificate(vectors.chainId, cert, header, keys, referenceVerifier);
  t.pass('certificate verifies against the validator keys');
  for (const vote of vectors.commitVotes) {
    const manual = concatBytes(
      new TextEncoder().encode('vigil/pbft/v1'),
      Uint8Array.of(0, vectors.chainId.length),
      new TextEncoder().encode(vectors.chainId),
      fromHex(`85030001${'5820'}${vectors.blockHeader.hash}0${vote.validator}`),
    );
    t.equal(toHex(manual), vote.signBytes, `vote ${vote.validator}: [3, 0, 1, hash, i] sign bytes`);
    t.ok(referenceVerifier.verify(fromHex(vote.signature), manual, keys[vote.validator]!));
  }
});

t.test('receipts root and its state entry (docs/protocol.md §12.5)', async (t) => {
  const R = vectors.receipts;
  const txIds = vectors.transactions.map((x) => x.txId);
  const bytes = R.receipts.map((r) => fromHex(r.encoded));
  R.receipts.forEach((r, i) => {
    const d = decodeReceiptBytes(bytes[i]!);
    t.equal(d.status, r.status, `receipt ${i}: status`);
    t.equal(d.txId && toHex(d.txId), txIds[i], `receipt ${i}: names transaction ${i}`);
    if (d.status === 'rejected') t.equal(d.code, (r as { code?: string }).code);
  });
  t.equal(decodeReceiptBytes(fromHex(R.undecodable.encoded)).txId, null);
  t.equal(toHex(merkleRoot(bytes)), R.root);
  t.equal(R.root, toHex(sha256(Uint8Array.of(1), ...R.leafHashes.map(fromHex))));
  bytes.forEach((b, i) => {
    t.ok(verifyMerkleInclusion(b, i, bytes.length, R.proofs[i]!.map(fromHex), fromHex(R.root)), `path ${i}`);
  });
  const e = R.stateEntry;
  t.equal(e.key, `00${toHex(new TextEncoder().encode('receipts/'))}${'0'.repeat(15)}1`);
  t.equal(toHex(receiptsRootKey(R.height)), e.key);
  t.equal(e.value, `5820${R.root}`);
  for (const k of R.keys) t.equal(toHex(receiptsRootKey(k.height)), k.key, `key of height ${k.height}`);
  // In a state holding only this entry the root is its leaf, and the proof has no siblings.
  const proof = { siblings: [], leaf: { keyHash: fromHex(e.keyHash), valueHash: fromHex(e.valueHash) } };
  t.ok(verifySparseMerkleProof(fromHex(e.leafHash), fromHex(e.key), fromHex(e.value), proof));
  const forged = encodeReceiptBytes({ status: 'accepted', txId: fromHex(txIds[1]!) });
  t.notOk(verifyMerkleInclusion(forged, 1, 2, R.proofs[1]!.map(fromHex), fromHex(R.root)), 'forged accepted');
});

t.test('malformed vectors fail with their documented error codes', async (t) => {
  const decoders: Record<string, (b: Uint8Array) => unknown> = {
    cbor: (b) => decodeCanonical(b),
    transaction: (b) => decodeTransaction(b, { chainId: vectors.chainId }),
    blockHeader: (b) => decodeBlockHeader(b),
    block: (b) => decodeBlock(b),
    certificate: (b) => decodeCommitCertificate(b),
  };
  for (const m of vectors.malformed)
    expectWireError(t, () => decoders[m.decoder]!(fromHex(m.hex)), m.error, m.name);
});

t.test('signature acceptance-rule vectors', async (t) => {
  for (const s of vectors.signatures) {
    t.equal(
      referenceVerifier.verify(fromHex(s.signature), fromHex(s.message), fromHex(s.publicKey)),
      s.valid,
      s.name,
    );
  }
});
