import t from 'tap';
import { eitherVerified, VerifiedTransactions } from './verified-transactions.ts';

const id = (n: number): Uint8Array => new Uint8Array(32).fill(n);
const sig = (n: number): Uint8Array => new Uint8Array(64).fill(n);

t.test('a hit needs the same id and the exact signature that verified', async (t) => {
  const v = new VerifiedTransactions();
  t.notOk(v.isVerified(id(1), sig(1)), 'nothing recorded yet');
  v.remember(id(1), sig(1));
  t.ok(v.isVerified(id(1), sig(1)));
  t.notOk(v.isVerified(id(1), sig(2)), 'a re-signed copy (other signature) is not covered by the id');
  t.notOk(v.isVerified(id(1), sig(1).subarray(0, 63)), 'a truncated signature');
  t.notOk(v.isVerified(id(2), sig(1)), 'another transaction');
  t.equal(v.hits, 1, 'only the true hit counted');
});

t.test('what is recorded is a copy: the caller may reuse its buffers', async (t) => {
  const v = new VerifiedTransactions();
  const s = sig(7);
  const txId = id(7);
  v.remember(txId, s);
  s[0] = 0;
  t.notOk(v.isVerified(txId, s), 'the mutated buffer no longer matches');
  t.ok(v.isVerified(id(7), sig(7)), 'the original bytes still do');
  // Views into larger buffers (decoded from a frame) key by their own bytes only.
  const frame = new Uint8Array(100).fill(9);
  frame.set(id(3), 10);
  v.remember(frame.subarray(10, 42), sig(3));
  t.ok(v.isVerified(id(3), sig(3)));
});

t.test('bounded: the least recently used entries leave first', async (t) => {
  const v = new VerifiedTransactions(2);
  v.remember(id(1), sig(1));
  v.remember(id(2), sig(2));
  t.ok(v.isVerified(id(1), sig(1)), 'touch 1');
  v.remember(id(3), sig(3));
  t.equal(v.size, 2);
  t.notOk(v.isVerified(id(2), sig(2)), '2 was the least recently used');
  t.ok(v.isVerified(id(1), sig(1)));
  t.ok(v.isVerified(id(3), sig(3)));
  t.throws(() => new VerifiedTransactions(0), RangeError);
});

t.test('eitherVerified answers yes when any cache does, and no otherwise', async (t) => {
  const a = new VerifiedTransactions();
  const b = new VerifiedTransactions();
  a.remember(id(1), sig(1));
  b.remember(id(2), sig(2));
  const both = eitherVerified(a, b);
  t.ok(both.isVerified(id(1), sig(1)));
  t.ok(both.isVerified(id(2), sig(2)));
  t.notOk(both.isVerified(id(3), sig(3)));
  t.notOk(both.isVerified(id(1), sig(2)));
});
