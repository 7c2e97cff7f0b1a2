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
          ...(limit !== undefined ? { limit } : {}),
          ...(reverse !== undefined ? { reverse } : {}),
        }),
    },
  };
}
