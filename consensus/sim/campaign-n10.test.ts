// CI campaign for n = 10: every scenario over 2 seeds (with the other campaign-n*.test.ts files,
// at least 500 seeded runs), asserting zero violations. A failure prints the command that replays it.
import t from 'tap';
import { runCampaign } from './campaign.ts';
import { seedsFor } from './campaign-support.ts';
import { SCENARIO_NAMES } from './scenarios.ts';

for (const scenario of SCENARIO_NAMES) {
  t.test(`${scenario}, n=10`, async (t) => {
    const result = runCampaign({ scenarios: [scenario], sizes: [10], seeds: seedsFor(2) });
    t.equal(result.runs, seedsFor(2));
    t.equal(result.violations, 0, 'no violations', {
      failures: result.failures.slice(0, 3).map((f) => ({
        reproduce: f.reproduce,
        first: `${f.violations[0]!.kind}: ${f.violations[0]!.detail}`,
      })),
    });
    t.ok(result.rows[0]!.txsCommitted > 0, 'transactions were committed');
  });
}
