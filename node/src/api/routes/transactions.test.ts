// ?wait=commit resolves on the receipt that settles a transaction id, not on one a copy of it got.
import t from 'tap';
import type { AppliedBlock } from '../../validator/validator.ts';
import { CommitWaiters } from './transactions.ts';

const id = new Uint8Array(32).fill(7);
const idHex = Buffer.from(id).toString('hex');
const block = (height: number, receipt: object) =>
  ({ height, result: { receipts: [{ txId: id, ...receipt }] } }) as unknown as AppliedBlock;

t.test('a BAD_SIGNATURE or NONCE_GAP receipt does not settle the id; the later commit does', async (t) => {
  const w = new CommitWaiters();
  const outcome = w.wait(idHex, 10_000);
  // A mangled copy (same id: the id does not cover the signature) and a proposal ahead of its
  // predecessor: neither consumes the nonce, and the genuine transaction is still pending.
  w.onBlock(block(5, { status: 'rejected', code: 'BAD_SIGNATURE' }));
  w.onBlock(block(6, { status: 'rejected', code: 'NONCE_GAP' }));
  w.onBlock(block(7, { status: 'accepted' }));
  t.same(await outcome, { id: idHex, status: 'committed', height: 7 });
});

t.test('a rejection that consumed the nonce, or NONCE_TOO_LOW, settles it', async (t) => {
  const w = new CommitWaiters();
  const outcome = w.wait(idHex, 10_000);
  w.onBlock(block(3, { status: 'rejected', code: 'UNAUTHORIZED' }));
  t.same(await outcome, { id: idHex, status: 'rejected', height: 3, code: 'UNAUTHORIZED' });
  const again = w.wait(idHex, 10_000);
  w.onBlock(block(4, { status: 'rejected', code: 'NONCE_TOO_LOW' }));
  t.same(await again, { id: idHex, status: 'rejected', height: 4, code: 'NONCE_TOO_LOW' });
});
