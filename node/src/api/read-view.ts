// The query layer's ReadView (state-machine/query.ts) over the node's chain store: the flat copies of
// the committed state and of the secondary index, at the applied height. Reads are not a snapshot
// across a concurrent block commit; every query reads a handful of keys, and each value it returns was
// committed at some height, which is what a client of an eventually-advancing chain can expect.
import type { KeyValueView, ReadView } from '../state-machine/query.ts';
import type { ChainStore } from '../store/chain-store.ts';
import { keys } from '../store/keys.ts';

function view(
  store: ChainStore,
  get: (key: Uint8Array) => Promise<Uint8Array | undefined>,
  wrap: (key: Uint8Array) => Uint8Array,
  check?: (key: Uint8Array, value: Uint8Array) => Promise<void>,
): KeyValueView {
  return {
    get,
    async *range(opts) {
      const it = store.db.iterator({
        gte: wrap(opts.gte),
        lt: wrap(opts.lt),
        reverse: opts.reverse ?? false,
        limit: opts.limit ?? -1,
      });
      for await (const [k, v] of it) {
        const key = k.subarray(1);
        if (check) await check(key, v);
        yield { key, value: v };
      }
    },
  };
}

export function storeReadView(store: ChainStore): ReadView {
  return {
    // State values are checked against the state tree before they are served (tamper evidence,
    // ChainStore.verifiedState); the index is derived data outside the state root (docs/storage.md).
    state: view(
      store,
      (k) => store.verifiedState(k),
      keys.state,
      (k, v) => store.verifyStateEntry(k, v),
    ),
    index: view(store, (k) => store.state.getIndex(k), keys.index),
  };
}
