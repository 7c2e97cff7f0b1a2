import t from 'tap';
import { cpuBudget } from './cpu-budget.ts';

const base = {
  cores: 2,
  rawVerifyPerSec: 20_000,
  targetFraction: 0.75,
  validators: 4,
  runs: [] as { committedTxPerSec: number; validatorCores: number[] }[],
};

t.test('the budget is 4/3 of one verification whatever the number of validators', async (t) => {
  for (const validators of [4, 7, 10]) {
    const b = cpuBudget({ ...base, validators })!;
    t.equal(b.verifyUs, 100, 'two cores at 20,000 verifications/s: 100 µs of CPU each');
    t.ok(Math.abs(b.budgetUs - 400 / 3) < 1e-9);
    t.ok(Math.abs(b.budgetBesidesVerifyUs - 100 / 3) < 1e-9);
    t.equal(b.targetTxPerSec, (0.75 * 20_000) / validators);
    // Spending exactly the budget sustains exactly the target rate.
    const at = cpuBudget({
      ...base,
      validators,
      runs: [{ committedTxPerSec: 1_000, validatorCores: [(1_000 * b.budgetUs) / 1e6] }],
    })!;
    t.ok(Math.abs(at.capacityAtSpentTxPerSec! - at.targetTxPerSec) < 1e-6);
  }
});

t.test('spent CPU per committed transaction: mean over validators, spread over runs', async (t) => {
  const b = cpuBudget({
    ...base,
    runs: [
      { committedTxPerSec: 500, validatorCores: [0.375, 0.375, 0.375, 0.375] },
      { committedTxPerSec: 500, validatorCores: [0.25, 0.375, 0.375, 0.25] },
      { committedTxPerSec: 400, validatorCores: [0.25, 0.25, 0.25, 0.25] },
      { committedTxPerSec: 0, validatorCores: [0.1, 0.1, 0.1, 0.1] },
    ],
    nodeExec: { processCpuMsPerBlock: 200, txsPerBlock: 1_000 },
  })!;
  t.same(b.spentUs, { min: 625, median: 625, max: 750, n: 3 }, 'a run that committed nothing is left out');
  t.equal(b.nodeExecUs, 200);
  t.equal(b.capacityAtSpentTxPerSec, 2e6 / (4 * 625));
  t.equal(b.capacityAtNodeExecTxPerSec, 2e6 / (4 * 200));
});

t.test('missing or nonsensical inputs give no budget or no figure, never NaN', async (t) => {
  t.equal(cpuBudget({ ...base, rawVerifyPerSec: 0 }), null);
  t.equal(cpuBudget({ ...base, cores: Number.NaN }), null);
  t.equal(cpuBudget({ ...base, validators: 0 }), null);
  const b = cpuBudget({
    ...base,
    runs: [{ committedTxPerSec: 300, validatorCores: [] }],
    nodeExec: { processCpuMsPerBlock: 0, txsPerBlock: 1_000 },
  })!;
  t.equal(b.spentUs, null);
  t.equal(b.nodeExecUs, null);
  t.equal(b.capacityAtSpentTxPerSec, null);
  t.equal(b.capacityAtNodeExecTxPerSec, null);
});
