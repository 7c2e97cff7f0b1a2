// The query layer's ReadView over node-core's ChainStore (committed state and secondary index).

import type { ChainStore } from '../store/chain-store.ts';
import type { ReadView } from './query.ts';

export function chainStoreReadView(store: ChainStore): ReadView {
  return {
    state: { get: (key) => store.state.get(key) },
    index: {
      get: (key) => store.state.getIndex(key),
      range: ({ gte, lt, limit, reverse }) =>
        store.state.scanIndex(new Uint8Array(0), {
          gte,
          lt,
          // LevelDB's iterator reads its limit as an int32 (a larger one wraps: 2^32 + 1 becomes 1); no
          // index range holds 2^31 entries, so a larger limit is the same as none.
          ...(limit !== undefined && limit <= 0x7fff_ffff ? { limit } : {}),
          ...(reverse !== undefined ? { reverse } : {}),
        }),
    },
  };
}
