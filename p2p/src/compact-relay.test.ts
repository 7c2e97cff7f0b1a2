// CompactRelay with its real server side answering its real client side in one process: a sender
// relay (the primary) and a receiver relay (a backup) whose host passes each txfetch request to the
// sender's serve(). Hostile peers are hosts that answer otherwise.
import { encodeCanonical } from '@vigil/consensus/wire';
import fc from 'fast-check';
import t from 'tap';
import {
  compactPrePrepare,
  decodeTxFetchRequest,
  encodeTxFetchResponse,
  leafKey,
  TxFetchKind,
  TxFetchStatus,
} from './compact-codec.ts';
import { type CompactHost, type CompactMetrics, CompactRelay, emptyCompactMetrics } from './compact-relay.ts';
import { craft, fakeTx, fieldsOf, prePrepare } from './compact-testkit.ts';
import { type CompactError, P2PError, P2PErrorCode } from './errors.ts';
import { DEFAULT_COMPACT } from './limits.ts';
import { silentLogger } from './logger.ts';

const runs = Number(process.env.VIGIL_PROPERTY_RUNS ?? 100);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Lets pending promise chains (a fetch and its fallback) run to the end. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

interface Side {
  relay: CompactRelay;
  metrics: CompactMetrics;
  delivered: { peer: string; message: Uint8Array }[];
  offences: { peer: string; code: string }[];
}

function side(request: CompactHost['request'], options: Partial<typeof DEFAULT_COMPACT> = {}): Side {
  const metrics = emptyCompactMetrics();
  const delivered: Side['delivered'] = [];
  const offences: Side['offences'] = [];
  const relay = new CompactRelay(
    { ...DEFAULT_COMPACT, ...options },
    {
      request,
      deliver: (peer, message) => delivered.push({ peer, message }),
      offence: (peer, err: CompactError) => offences.push({ peer, code: err.code }),
      log: silentLogger,
    },
    metrics,
  );
  return { relay, metrics, delivered, offences };
}

/** A primary 'P' and a backup that fetches from it; `knows` are the transactions the backup gossiped. */
function pair(options: Partial<typeof DEFAULT_COMPACT> = {}) {
  const primary = side(() => Promise.reject(new Error('the primary asks no one')), options);
  const backup = side(async (_peer, body) => primary.relay.serve('B', body), options);
  const knows = (txs: Uint8Array[]) => {
    for (const tx of txs) backup.relay.rememberTx(leafKey(tx), tx);
  };
  return { primary, backup, knows };
}

t.test('every transaction known: rebuilt at once, no request', async (t) => {
  const { primary, backup, knows } = pair();
  const txs = Array.from({ length: 30 }, (_, i) => fakeTx(i));
  const m = prePrepare(txs);
  knows(txs);
  const form = primary.relay.formFor(m)!;
  t.equal(primary.relay.formFor(m), form, 'one compact form per message, whatever the number of peers');
  backup.relay.receive('P', form.bytes);
  t.equal(backup.delivered.length, 1);
  t.equal(hex(backup.delivered[0]!.message), hex(m), 'the exact signed bytes');
  t.equal(backup.delivered[0]!.peer, 'P');
  t.match(backup.metrics, { received: 1, rebuilt: 1, fetches: 0 });
  t.equal(backup.relay.pendingCount, 0);
});

t.test('missing transactions are fetched by position, then the message is rebuilt', async (t) => {
  const { primary, backup, knows } = pair();
  const txs = Array.from({ length: 30 }, (_, i) => fakeTx(i));
  const m = prePrepare(txs);
  knows(txs.filter((_, i) => i % 3 !== 0));
  backup.relay.receive('P', primary.relay.formFor(m)!.bytes);
  t.equal(backup.delivered.length, 0, 'incomplete: waits');
  t.equal(backup.relay.pendingCount, 1);
  await settle();
  t.equal(backup.delivered.length, 1);
  t.equal(hex(backup.delivered[0]!.message), hex(m));
  t.match(backup.metrics, { received: 1, rebuilt: 0, fetches: 1, fetchedTxs: 10, rebuiltAfterFetch: 1 });
  t.match(primary.metrics, { served: 1 });
  t.equal(backup.relay.pendingCount, 0, 'the buffer is empty again');
  t.same(backup.offences, []);
  // What was fetched is remembered: the same block again (a retransmission) rebuilds at once.
  backup.relay.receive('P', primary.relay.formFor(m)!.bytes);
  t.equal(backup.metrics.rebuilt, 1);
});

t.test(
  'property: for any subset of known transactions the backup delivers exactly the signed bytes',
  async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
        fc.nat(1000),
        async (n, known, salt) => {
          const { primary, backup, knows } = pair();
          const txs = Array.from({ length: n }, (_, i) => fakeTx(salt * 64 + i, 1 + ((salt + i * 37) % 400)));
          const m = prePrepare(txs, { height: 1 + salt });
          knows(txs.filter((_, i) => known[i]));
          backup.relay.receive('P', primary.relay.formFor(m)!.bytes);
          await settle();
          const missing = txs.filter((_, i) => !known[i]).length;
          return (
            backup.delivered.length === 1 &&
            hex(backup.delivered[0]!.message) === hex(m) &&
            backup.metrics.fetchedTxs === missing &&
            backup.metrics.fetches === (missing > 0 ? 1 : 0) &&
            backup.offences.length === 0 &&
            backup.relay.pendingCount === 0
          );
        },
      ),
      { numRuns: runs },
    );
  },
);

t.test(
  'a block the sender no longer has: both requests fail cleanly, nothing is delivered, no offence',
  async (t) => {
    const { primary, backup } = pair({ proposalCache: { maxBlocks: 1, maxBytes: 1 << 20 } });
    const first = prePrepare([fakeTx(1), fakeTx(2)], { height: 1 });
    const second = prePrepare([fakeTx(3)], { height: 2 });
    const form = primary.relay.formFor(first)!;
    primary.relay.formFor(second); // evicts the first
    backup.relay.receive('P', form.bytes);
    await settle();
    t.same(backup.delivered, []);
    t.match(backup.metrics, { fetches: 1, fullFetches: 1, fullFetched: 0, abandoned: 1 });
    t.equal(backup.metrics.refused[P2PErrorCode.txFetchUnknownBlock], 2);
    t.same(backup.offences, [], 'an evicted block is no one’s fault');
    t.match(primary.metrics, { servedUnknown: 2 });
    t.equal(backup.relay.pendingCount, 0);
  },
);

t.test(
  'a wrong transaction in the answer is an offence; the whole message is asked for instead',
  async (t) => {
    const primary = side(() => Promise.reject(new Error('unused')));
    const txs = Array.from({ length: 6 }, (_, i) => fakeTx(i));
    const m = prePrepare(txs);
    const form = primary.relay.formFor(m)!;
    // A sender that answers the transactions' request with another transaction, and the whole-message
    // request honestly.
    const backup = side(async (_peer, body) => {
      const req = decodeTxFetchRequest(body);
      if (req.kind === TxFetchKind.message) return primary.relay.serve('B', body);
      return encodeTxFetchResponse({
        status: TxFetchStatus.ok,
        txs: req.positions.map((i) => fakeTx(100 + i)),
      });
    });
    backup.relay.receive('P', form.bytes);
    await settle();
    t.same(backup.offences, [{ peer: 'P', code: P2PErrorCode.txFetchWrongTx }]);
    t.equal(backup.delivered.length, 1);
    t.equal(hex(backup.delivered[0]!.message), hex(m), 'the whole message, as signed');
    t.match(backup.metrics, { fetches: 1, fullFetches: 1, fullFetched: 1, abandoned: 0 });
  },
);

t.test('a sender that lies twice: two offences, nothing delivered, the buffer empties', async (t) => {
  const primary = side(() => Promise.reject(new Error('unused')));
  const m = prePrepare([fakeTx(1), fakeTx(2)]);
  const other = prePrepare([fakeTx(3)]);
  const backup = side(async (_peer, body) => {
    const req = decodeTxFetchRequest(body);
    if (req.kind === TxFetchKind.message)
      return encodeTxFetchResponse({ status: TxFetchStatus.ok, message: other });
    return encodeCanonical([TxFetchStatus.ok, [fakeTx(9)]]); // one transaction for two positions
  });
  backup.relay.receive('P', primary.relay.formFor(m)!.bytes);
  await settle();
  t.same(
    backup.offences.map((o) => o.code),
    [P2PErrorCode.txFetchBadResponse, P2PErrorCode.txFetchBadResponse],
  );
  t.same(backup.delivered, []);
  t.match(backup.metrics, { abandoned: 1 });
  t.equal(backup.relay.pendingCount, 0);
});

t.test('a request that times out falls back to the whole message', async (t) => {
  const primary = side(() => Promise.reject(new Error('unused')));
  const m = prePrepare([fakeTx(1), fakeTx(2)]);
  let calls = 0;
  const backup = side(async (_peer, body) => {
    calls++;
    if (calls === 1) throw new P2PError(P2PErrorCode.timeout, 'request timed out');
    return primary.relay.serve('B', body);
  });
  backup.relay.receive('P', primary.relay.formFor(m)!.bytes);
  await settle();
  t.equal(hex(backup.delivered[0]!.message), hex(m));
  t.same(backup.offences, [], 'a timeout is not an offence');
  t.match(backup.metrics, { fullFetches: 1, fullFetched: 1 });
});

t.test('a retransmission while waiting is not fetched twice; the buffer is bounded per peer', async (t) => {
  const { primary, backup } = pair({ maxPendingPerPeer: 1 });
  const a = primary.relay.formFor(prePrepare([fakeTx(1)], { height: 1 }))!.bytes;
  const b = primary.relay.formFor(prePrepare([fakeTx(2)], { height: 2 }))!.bytes;
  backup.relay.receive('P', a);
  backup.relay.receive('P', a);
  backup.relay.receive('P', b);
  backup.relay.receive('Q', b); // another peer's buffer is its own
  t.equal(backup.relay.pendingCount, 2);
  t.match(backup.metrics, { received: 4, duplicates: 1, pendingOverflow: 1 });
  await settle();
  t.equal(backup.delivered.length, 2);
  t.same(backup.delivered.map((d) => d.peer).sort(), ['P', 'Q']);
});

t.test(
  'hostile compact messages are refused and counted against the sender; nothing is delivered',
  async (t) => {
    const { primary, backup } = pair();
    const form = primary.relay.formFor(prePrepare([fakeTx(1), fakeTx(2)]))!;
    const f = fieldsOf(form.bytes);
    backup.relay.receive('X', craft([...f, 0]));
    backup.relay.receive('X', craft(f.map((x, i) => (i === 2 ? new Uint8Array(32) : x))));
    backup.relay.receive('X', craft(f.map((x, i) => (i === 6 ? (x as Uint8Array[]).slice(1) : x))));
    backup.relay.receive('X', Uint8Array.of(0xff));
    t.same(backup.delivered, []);
    t.same(
      backup.offences.map((o) => o.code),
      [
        P2PErrorCode.compactMalformed,
        P2PErrorCode.compactHeaderMismatch,
        P2PErrorCode.compactIdsMismatch,
        P2PErrorCode.compactMalformed,
      ],
    );
    t.same(backup.metrics.refused, {
      [P2PErrorCode.compactMalformed]: 2,
      [P2PErrorCode.compactHeaderMismatch]: 1,
      [P2PErrorCode.compactIdsMismatch]: 1,
    });
    t.equal(backup.metrics.received, 0);
  },
);

t.test(
  'the server refuses hostile requests (duplicate, unsorted, out-of-range positions) as offences',
  async (t) => {
    const { primary } = pair();
    const form = primary.relay.formFor(prePrepare([fakeTx(1), fakeTx(2), fakeTx(3)]))!;
    const h = form.blockHash;
    const ask = (v: unknown) => primary.relay.serve('B', encodeCanonical(v as never));
    const status = (r: Uint8Array) => r[1];
    t.equal(status(ask([0, h, [0, 2]])), TxFetchStatus.ok);
    t.equal(status(ask([0, h, [3]])), TxFetchStatus.badRequest, 'beyond the block');
    t.equal(status(ask([0, h, [1, 1]])), TxFetchStatus.badRequest, 'duplicate');
    t.equal(status(ask([0, h, [2, 1]])), TxFetchStatus.badRequest, 'unsorted');
    t.equal(status(ask([0, h, [1], 'x'])), TxFetchStatus.badRequest, 'an unknown field');
    t.equal(status(ask([0, new Uint8Array(32), [0]])), TxFetchStatus.unknownBlock, 'an unknown block');
    t.same(
      primary.offences.map((o) => o.code),
      [
        P2PErrorCode.txFetchBadPositions,
        P2PErrorCode.txFetchBadPositions,
        P2PErrorCode.txFetchBadPositions,
        P2PErrorCode.compactMalformed,
      ],
    );
    t.match(primary.metrics, { served: 1, servedUnknown: 1 });
  },
);

t.test('only PRE-PREPAREs with transactions get a compact form', async (t) => {
  const { primary } = pair();
  t.equal(primary.relay.formFor(prePrepare([])), undefined);
  t.equal(primary.relay.formFor(Uint8Array.of(0x85, 0x02, 0, 0, 0)), undefined);
  t.ok(compactPrePrepare(prePrepare([fakeTx(1)])));
});

t.test('transactions leave the cache once a block used them; a retransmission still rebuilds', async (t) => {
  const { primary, backup, knows } = pair();
  const txs = Array.from({ length: 10 }, (_, i) => fakeTx(i));
  const later = fakeTx(50);
  knows([...txs, later]);
  for (const tx of txs) primary.relay.rememberTx(leafKey(tx), tx);
  const m = prePrepare(txs);
  const form = primary.relay.formFor(m)!;
  t.equal(primary.relay.cachedTxs, 0, 'the primary answers for its proposal from the proposal cache');
  backup.relay.receive('P', form.bytes);
  t.equal(backup.relay.cachedTxs, 1, 'only the transaction no block used yet is left');
  backup.relay.receive('P', form.bytes);
  t.equal(backup.delivered.length, 2);
  t.equal(hex(backup.delivered[1]!.message), hex(m), 'the retransmission, from the block kept aside');
  t.match(backup.metrics, { rebuilt: 2, fetches: 0 });
});
