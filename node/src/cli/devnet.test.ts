import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { encodeCanonical } from '@vigil/consensus/wire';
import { openDb } from '../store/db.ts';
import { keys } from '../store/keys.ts';
import { createNetworkHomes } from '../validator/network-homes.ts';
import { homePaths } from '../validator/home.ts';
import { runDevnet } from './devnet.ts';

t.test(
  'a devnet kept from an older database schema is refused with the way out, nothing started',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-devnet-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const { homes } = createNetworkHomes({ dir, validators: 4, p2pBasePort: 46601, apiBasePort: 47701 });
    const db = await openDb(homePaths(homes[0]!).chainDb);
    await db.put(keys.meta('schemaVersion'), encodeCanonical(1));
    await db.close();
    const errors: string[] = [];
    const restore = console.error;
    console.error = (...args: unknown[]) => {
      errors.push(args.join(' '));
    };
    let code: number;
    try {
      code = await runDevnet(['--dir', dir, '--no-sensors']);
    } finally {
      console.error = restore;
    }
    t.equal(code, 1);
    t.match(errors.join('\n'), /database schema 1, this node reads \d+.*npm start -- --fresh/);
  },
);
