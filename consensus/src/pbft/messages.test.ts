// Message formats, sign bytes and strict decoding (docs/consensus.md "Messages").
import t, { type Test } from 'tap';
import { commitVoteSignBytes, encodeCanonical, referenceVerifier, signerFromSeed } from '../wire/index.ts';
import { PbftDecodeError } from './errors.ts';
import {
  decodeMessage,
  encodeMessage,
  MessageType,
  messageLimits,
  messageSignBytes,
  type PbftMessage,
  verifyMessageSignature,
} from './messages.ts';
import {
  CHAIN,
  checkpoint,
  commit,
  makeTestBlock,
  newView,
  prePrepare,
  prepare,
  preparedProof,
  suspect,
  testGroup,
  tx,
  viewChange,
} from './testkit.ts';

const g = testGroup(4);
const limits = messageLimits(g.config(0));
const b1 = makeTestBlock(4, 0, 1, undefined, [tx(1), tx(2)]);

function roundTrip(t: Test, m: { message: PbftMessage; bytes: Uint8Array }) {
  const d = decodeMessage(m.bytes, limits);
  t.same(encodeMessage(d), m.bytes, `type ${d.type} re-encodes to the same bytes`);
  t.ok(
    verifyMessageSignature(CHAIN, d, g.crypto, g.validators[d.replica]!),
    `type ${d.type} signature verifies`,
  );
}

t.test('every message type round-trips and verifies', async (t) => {
  roundTrip(t, prePrepare(g, 0, 0, b1));
  roundTrip(t, prepare(g, 1, 0, 1, b1.hash));
  roundTrip(t, commit(g, 2, 0, 1, b1.hash));
  roundTrip(t, checkpoint(g, 3, 4, b1.hash, new Uint8Array(32), 7));
  const vc = viewChange(g, 1, 1, [preparedProof(g, 0, b1)]);
  roundTrip(t, vc);
  roundTrip(t, newView(g, 1, 1, [vc.bytes], []));
  roundTrip(t, suspect(g, 3, 2));
});

t.test("COMMIT sign bytes are exactly wire's commitVoteSignBytes (transferable certificates)", async (t) => {
  const c = commit(g, 2, 5, 9, b1.hash).message;
  t.same(
    messageSignBytes(CHAIN, c),
    commitVoteSignBytes(CHAIN, { view: 5, height: 9, blockHash: b1.hash, validator: 2 }),
  );
});

t.test('forged or altered messages fail verification (fake and real ed25519)', async (t) => {
  const p = prepare(g, 1, 0, 1, b1.hash).message;
  t.notOk(verifyMessageSignature(CHAIN, { ...p, height: 2 }, g.crypto, g.validators[1]!), 'altered field');
  t.notOk(verifyMessageSignature(CHAIN, p, g.crypto, g.validators[2]!), 'wrong key');
  t.notOk(verifyMessageSignature('other-chain', p, g.crypto, g.validators[1]!), 'other chain');
  const real = testGroup(4, {
    signers: [1, 2, 3, 4].map((i) => signerFromSeed(new Uint8Array(32).fill(i))),
    verifier: referenceVerifier,
  });
  const rp = prepare(real, 1, 0, 1, b1.hash).message;
  t.ok(verifyMessageSignature(CHAIN, rp, referenceVerifier, real.validators[1]!), 'real signature verifies');
  t.notOk(
    verifyMessageSignature(CHAIN, { ...rp, view: 1 }, referenceVerifier, real.validators[1]!),
    'real: altered',
  );
  t.notOk(verifyMessageSignature(CHAIN, rp, referenceVerifier, real.validators[2]!), 'real: wrong key');
});

function decodeFails(t: Test, bytes: Uint8Array, code: string, what: string) {
  try {
    decodeMessage(bytes, limits);
    t.fail(`${what}: decoded`);
  } catch (e) {
    t.ok(e instanceof PbftDecodeError, `${what}: PbftDecodeError`);
    t.equal((e as PbftDecodeError).code, code, what);
  }
}

t.test('strict decoding: typed errors for hostile input', async (t) => {
  const sig = new Uint8Array(64);
  decodeFails(t, new Uint8Array([0xff, 0x00]), 'MALFORMED', 'not CBOR');
  decodeFails(t, encodeCanonical([2, 0, 1, b1.hash, 1]), 'WRONG_TYPE', 'missing signature');
  decodeFails(t, encodeCanonical([2, 0, 1, b1.hash, 1, sig, 0]), 'WRONG_TYPE', 'extra field');
  decodeFails(t, encodeCanonical([2, 0, 1, b1.hash, 9, sig]), 'NOT_MEMBER', 'replica outside the set');
  decodeFails(t, encodeCanonical([2, -1, 1, b1.hash, 1, sig]), 'WRONG_TYPE', 'negative view');
  decodeFails(t, encodeCanonical([2, 0, 1, new Uint8Array(31), 1, sig]), 'WRONG_TYPE', 'short hash');
  decodeFails(t, encodeCanonical([99, 0]), 'UNKNOWN_TYPE', 'unknown type');
  decodeFails(
    t,
    encodeCanonical([2, 0, 1, b1.hash, 1, sig, new Uint8Array(600)]),
    'TOO_LARGE',
    'oversized PREPARE',
  );
  decodeFails(
    t,
    encodeCanonical([1, 0, 1, b1.hash, 0, sig, new Uint8Array([1, 2, 3])]),
    'BAD_BLOCK',
    'junk block',
  );
  decodeFails(t, encodeCanonical([7, 1, 1000, 1, sig]), 'WRONG_TYPE', 'FETCH count too large');
  decodeFails(t, encodeCanonical([9, 0, 1]), 'WRONG_TYPE', 'SUSPECT without signature');
  decodeFails(t, encodeCanonical([9, 0, 1, sig, 0]), 'WRONG_TYPE', 'SUSPECT with an extra field');
  decodeFails(t, encodeCanonical([9, 0, 4, sig]), 'NOT_MEMBER', 'SUSPECT from outside the set');
  decodeFails(t, encodeCanonical([9, 0, 1, sig, new Uint8Array(600)]), 'TOO_LARGE', 'oversized SUSPECT');
  t.equal(MessageType.newView, 6);
  t.equal(MessageType.suspect, 9);
});
