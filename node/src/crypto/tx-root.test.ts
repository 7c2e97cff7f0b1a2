import fc from 'fast-check';
import t from 'tap';
import { merkleRoot } from '@vigil/consensus/wire';
import { txRoot } from './tx-root.ts';

t.test('txRoot equals wire merkleRoot (RFC 6962) for any list of transactions', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 70 }), (txs) =>
      Buffer.from(txRoot(txs)).equals(merkleRoot(txs)),
    ),
    { numRuns: 400 },
  );
  t.pass('agree');
});
