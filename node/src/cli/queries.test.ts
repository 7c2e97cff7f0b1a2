// The query commands' rendering and local argument checks, against a stub client (no node): what an
// operator reads must be in the units they typed, and every continuation the output suggests must be
// an option the command takes.
import t from 'tap';
import { signerFromSeed } from '@vigil/consensus/wire';
import type { Values } from './actions.ts';
import { UsageError } from './args.ts';
import type { NodeClient } from './node-client.ts';
import { physical, QUERIES, type QueryEnv } from './queries.ts';
import { run } from './vigil.ts';

const patient = 'ab'.repeat(32);
const signer = signerFromSeed(new Uint8Array(32).fill(7));

function env(values: Values, answer: unknown, positionals: string[] = []) {
  const paths: string[] = [];
  const client = {
    get: async (path: string) => {
      paths.push(path);
      return answer;
    },
    signedGet: async (path: string) => {
      paths.push(path);
      return answer;
    },
  } as unknown as NodeClient;
  const e: QueryEnv = {
    client,
    values,
    positionals,
    signer: () => signer,
    chainId: async () => 'vigil-test',
  };
  return { e, paths };
}

t.test('readings and alerts show physical values, as --reading takes them', async (t) => {
  t.equal(physical(5, 368), '36.8', 'temperature travels in tenths of a degree');
  t.equal(physical(5, 370), '37.0');
  t.equal(physical(1, 72), '72');
  t.equal(physical(99, 5), '5', 'an unknown kind is shown as sent');
  const { e } = env(
    { patient, kind: 'temperature' },
    {
      items: [{ kind: 5, value: 368, unit: 'Cel', measuredAt: 0, source: 'cd'.repeat(32) }],
      next: null,
      access: { via: 'grant' },
    },
  );
  const r = await QUERIES.readings!.run(e);
  t.match(r.text, /36\.8 Cel/);
  t.match(r.text, /\n\(1 reading via grant\)$/, 'one reading, not "1 readings"');
  t.notMatch(r.text, /368/);
  const a = await QUERIES.alerts!.run(
    env(
      { patient },
      {
        items: [
          {
            seq: 1,
            status: 'open',
            cause: 'threshold.high.temperature',
            kind: 5,
            value: 391,
            news2Total: null,
            raisedAt: 0,
          },
        ],
      },
    ).e,
  );
  t.match(a.text, /value 39\.1/);
});

t.test('the cursor readings suggests is an option it takes', async (t) => {
  const { e } = env({ patient, kind: 'heartRate' }, { items: [], next: 'CURSOR1', access: { via: 'self' } });
  const r = await QUERIES.readings!.run(e);
  t.match(r.text, /^\(0 readings via self; more: --cursor CURSOR1\)$/);
  const next = env({ patient, kind: 'heartRate', cursor: 'CURSOR1' }, { items: [], next: null, access: {} });
  await QUERIES.readings!.run(next.e);
  t.match(next.paths[0], /[?&]cursor=CURSOR1(&|$)/);
  // Accepted by the argument parser: the command gets as far as the (unreachable) node, exit 5, not 2.
  const { error } = console;
  console.error = () => undefined;
  try {
    const code = await run([
      'readings',
      '--patient',
      patient,
      '--kind',
      'heartRate',
      '--cursor',
      'CURSOR1',
      '--key',
      '/nonexistent/key.json',
      '--node',
      'http://127.0.0.1:1',
    ]);
    t.not(code, 2, '--cursor is not an unknown option');
  } finally {
    console.error = error;
  }
});

t.test('a malformed transaction id is a usage error before any request', async (t) => {
  const tx = env({}, {}, ['zz']);
  await t.rejects(QUERIES.tx!.run(tx.e), UsageError);
  t.same(tx.paths, [], 'nothing was asked of the node');
  const proof = env({ tx: 'not-an-id' }, {});
  await t.rejects(QUERIES.proof!.run(proof.e), { message: /--tx must be a transaction id/ });
  t.same(proof.paths, []);
});

t.test('a bad positional HEIGHT is named as such, not as an option', async (t) => {
  const b = env({}, {}, ['abc']);
  await t.rejects(QUERIES.block!.run(b.e), { message: /^HEIGHT must be a non-negative integer \(got abc\)/ });
  t.same(b.paths, []);
});
