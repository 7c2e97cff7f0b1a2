// outcomeProofFromJson: the served JSON of an outcome proof, hostile until decoded (principle 4).
import fc from 'fast-check';
import t from 'tap';
import { WireError } from '../wire/index.ts';
import { ProofError } from './errors.ts';
import { outcomeProofFromJson } from './outcome-json.ts';

const base = {
  index: 0,
  proof: [],
  header: '00',
  certificate: '00',
  receipt: '00',
  receiptProof: [],
  receiptsRoot: '00',
  outcome: { stateProof: '00', header: '00', certificate: '00' },
};

t.test('no outcome yet: undefined; an outcome without its receipt fields: MALFORMED_PROOF', async (t) => {
  const { outcome: _, ...noOutcome } = base;
  t.equal(outcomeProofFromJson(noOutcome), undefined);
  for (const field of ['receipt', 'receiptProof', 'receiptsRoot'] as const) {
    const { [field]: _f, ...rest } = base;
    t.throws(() => outcomeProofFromJson(rest), { code: 'MALFORMED_PROOF' }, field);
  }
});

t.test('bad hex, lists and indexes are MALFORMED_PROOF, never a TypeError', async (t) => {
  const bad = [
    { ...base, receipt: 'zz' },
    { ...base, receiptsRoot: '0' },
    { ...base, receiptProof: ['0g'] },
    { ...base, receiptProof: 'ab' as unknown as string[] },
    { ...base, proof: [7 as unknown as string] },
    { ...base, index: -1 },
    { ...base, index: 1.5 },
    { ...base, outcome: { ...base.outcome, stateProof: 12 as unknown as string } },
  ];
  for (const b of bad) t.throws(() => outcomeProofFromJson(b), { code: 'MALFORMED_PROOF' });
});

t.test('arbitrary JSON: a decoded proof, undefined, or a ProofError/WireError', async () => {
  fc.assert(
    fc.property(fc.object({ maxDepth: 2 }), fc.anything(), (junk, outcome) => {
      try {
        outcomeProofFromJson({ ...base, ...junk, outcome } as never);
      } catch (e) {
        if (!(e instanceof ProofError) && !(e instanceof WireError)) throw e;
      }
    }),
    { numRuns: 500 },
  );
});
