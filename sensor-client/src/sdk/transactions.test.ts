// Building submitReadings transactions: what the SDK refuses before signing, so that the chain never
// gets (and never rejects, taking the whole batch with it) a batch it cannot accept.
import { signerFromSeed } from '@vigil/consensus/wire';
import t from 'tap';
import { Rng } from '../sim/prng.ts';
import { buildSubmitReadings } from './transactions.ts';

const T0 = Date.UTC(2026, 0, 1);
const rng = new Rng(11);
const ctx = { chainId: 'vigil-test', signer: signerFromSeed(rng.bytes(32)), nonce: 1, timestamp: T0 };
const patient = signerFromSeed(rng.bytes(32)).publicKey;

t.test(
  'measurement times must strictly increase per kind within a batch (READING_NOT_INCREASING)',
  async (t) => {
    // The state machine rejects the whole transaction (READING_NOT_INCREASING / READING_DUPLICATE), so
    // one bad time would cost every other reading of the batch, hours later, in the dead-letter file.
    t.throws(
      () =>
        buildSubmitReadings(ctx, patient, [
          { kind: 1, value: 70, measuredAt: T0 + 1000 },
          { kind: 1, value: 71, measuredAt: T0 },
        ]),
      { code: 'READING_NOT_INCREASING' },
    );
    t.throws(
      () =>
        buildSubmitReadings(ctx, patient, [
          { kind: 1, value: 70, measuredAt: T0 },
          { kind: 1, value: 70, measuredAt: T0 },
        ]),
      { code: 'READING_NOT_INCREASING' },
      'the same kind at the same time twice',
    );
    const ok = buildSubmitReadings(ctx, patient, [
      { kind: 1, value: 70, measuredAt: T0 + 1000 },
      { kind: 5, value: 368, measuredAt: T0 }, // other kinds have their own series
      { kind: 1, value: 71, measuredAt: T0 + 2000 },
    ]);
    t.equal(ok.tx.nonce, 1);
  },
);
