import { encodeCanonical } from '@vigil/consensus/wire';
import fc from 'fast-check';
import t from 'tap';
import { BlockSync, decodeSyncEntry, SyncError } from './block-sync.ts';

t.test('decodeSyncEntry turns any hostile bytes into SyncError, never anything else', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
      try {
        decodeSyncEntry(bytes);
        return false; // random bytes are never a certified block
      } catch (e) {
        return e instanceof SyncError && e.code === 'BAD_SYNC_ENTRY';
      }
    }),
    { numRuns: 2_000 },
  );
  for (const v of [[], [new Uint8Array(1)], [1, 2], [new Uint8Array(3), new Uint8Array(4)]]) {
    t.throws(() => decodeSyncEntry(encodeCanonical(v as never)), { code: 'BAD_SYNC_ENTRY' });
  }
  t.end();
});

// The successful path (a restarted validator catching up from real peers) is exercised end to end in
// node/src/testing/process-network.test.ts; here, peers that only serve garbage.
t.test('catchUp gives up with a typed error when no peer serves decodable blocks', async (t) => {
  let applied = 0;
  const requests: string[] = [];
  const sync = new BlockSync({
    peers: {
      connected: () => ['empty', 'liar'],
      requestStatus: async (p) => ({
        height: p === 'liar' ? 1_000 : 70,
        view: 0,
        checkpoint: { height: 0, digest: new Uint8Array(32) },
      }),
      requestBlocks: async (p, from, count) => {
        requests.push(`${p}:${from}+${count}`);
        return p === 'liar' ? [new Uint8Array([1, 2, 3])] : [new Uint8Array(0)];
      },
    },
    appliedHeight: () => applied,
    apply: async (blocks) => {
      applied += blocks.length;
      return applied;
    },
  });
  await t.rejects(
    sync.catchUp(),
    { code: 'NO_PEER_HAS_BLOCKS' },
    'nothing decodes: it gives up instead of spinning',
  );
  t.ok(requests.length > 0 && requests.length <= 7, `bounded attempts (${requests.length})`);
  t.equal(applied, 0, 'nothing undecodable was applied');
});
