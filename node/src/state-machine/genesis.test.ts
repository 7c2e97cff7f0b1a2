import t from 'tap';
import { toHex } from '@vigil/consensus/wire';
import { GenesisError, type GenesisSpec, genesisState } from './genesis.ts';
import { Keys } from './keys.ts';
import { PARAMS } from './params.ts';
import { Codec, readRecord } from './records.ts';
import { Harness } from './testing/harness.ts';
import { CHAIN, DAY, T0, World } from './testing/world.ts';

const k = (n: number) => new Uint8Array(32).fill(n);
const spec = (over: Partial<GenesisSpec> = {}): GenesisSpec => ({
  chainId: CHAIN,
  genesisTime: T0,
  organisations: [{ orgId: 'org-a', name: 'A', admins: [k(1)] }],
  validators: [{ publicKey: k(2), orgId: 'org-a' }],
  ...over,
});

t.test('genesis writes organisations, admins, validators and every parameter, sorted', async (t) => {
  const writes = genesisState(spec({ parameters: { maxGrantMs: DAY } }));
  const keys = writes.map((w) => toHex(w.key));
  t.same(keys, [...keys].sort(), 'sorted by key');
  t.same(genesisState(spec({ parameters: { maxGrantMs: DAY } })), writes, 'deterministic');
  const view = { get: async (key: Uint8Array) => writes.find((w) => toHex(w.key) === toHex(key))?.value };
  t.equal((await readRecord(view, Keys.actor(k(1)), Codec.actor))?.orgId, 'org-a');
  t.equal((await readRecord(view, Keys.validators(), Codec.validators))?.length, 1);
  t.equal((await readRecord(view, Keys.params(), Codec.params))?.maxGrantMs, DAY);
  t.equal(
    (await readRecord(view, Keys.params(), Codec.params))?.maxEmergencyMs,
    PARAMS.maxEmergencyMs.default,
  );
});

t.test('invalid genesis specs are refused with GenesisError', async (t) => {
  const bad = (over: Partial<GenesisSpec>) => t.throws(() => genesisState(spec(over)), GenesisError);
  bad({ organisations: [] });
  bad({ validators: [] });
  bad({ organisations: [{ orgId: 'Bad Id', name: 'x', admins: [k(1)] }] });
  bad({ organisations: [{ orgId: 'org-a', name: 'x', admins: [] }] });
  bad({ organisations: [{ orgId: 'org-a', name: 'x', admins: [k(1), k(1)] }] });
  bad({ validators: [{ publicKey: k(2), orgId: 'org-z' }] });
  bad({ validators: [{ publicKey: new Uint8Array(31), orgId: 'org-a' }] });
  bad({ parameters: { maxEmergencyMs: 2 * DAY } });
  bad({ parameters: { nonsense: 1 } as never });
});

t.test('the harness emulates the framework: nonces, duplicates, signatures, chain id', async (t) => {
  const w = new World();
  const p = w.patient;
  const tx = p.tx({ type: 20, patient: p.key }, w.now);
  const [ok] = await w.h.applyBlock([tx], w.now);
  t.ok(ok!.ok);
  const [dup] = await w.h.applyBlock([tx], w.now + 1);
  t.equal(dup!.code, 'DUPLICATE_TX', 'replaying a transaction fails');
  t.equal(
    (await w.h.applyBlock([p.tx({ type: 44, patient: p.key, optIn: true }, w.now, 1)], w.now + 2))[0]!.code,
    'NONCE_TOO_LOW',
  );
  t.equal(
    (await w.h.applyBlock([p.tx({ type: 44, patient: p.key, optIn: true }, w.now, 5)], w.now + 3))[0]!.code,
    'NONCE_GAP',
  );
  const forged = { ...p.tx({ type: 44, patient: p.key, optIn: true }, w.now, 2), sender: w.stranger.key };
  t.equal((await w.h.applyBlock([forged], w.now + 4))[0]!.code, 'BAD_SIGNATURE');
  const rejected = p.tx({ type: 44, patient: w.stranger.key, optIn: true }, w.now, 2);
  t.equal((await w.h.applyBlock([rejected], w.now + 5))[0]!.code, 'UNKNOWN_PATIENT');
  t.ok(
    (await w.h.applyBlock([p.tx({ type: 44, patient: p.key, optIn: true }, w.now, 3)], w.now + 6))[0]!.ok,
    'a rejection consumes the nonce',
  );
  t.equal((await readRecord(w.h.state, Keys.patient(p.key), Codec.patient))?.researchOptIn, true);
  t.equal((await w.h.applyBlock([{ ...tx, chainId: 'other' }], w.now + 7))[0]!.code, 'WRONG_CHAIN');
  const unknown = { ...p.tx({ type: 44, patient: p.key, optIn: false }, w.now, 4), type: 99 };
  const h2 = new Harness(w.h.genesis, { verifier: null });
  t.equal((await h2.applyBlock([{ ...unknown, nonce: 1 }], w.now))[0]!.code, 'UNKNOWN_TX_TYPE');
});
