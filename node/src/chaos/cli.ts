// npm run chaos -- --duration 300 --seed N [--nodes 4|7] [--rate 20] [--root-interval K] [--json] [--out DIR] [--keep]
// Runs a fault campaign (campaign.ts) on a fresh network of validator processes and audits the result.
// Writes a timeline report (JSON and Markdown) to --out; exits 1 if anything was lost, duplicated or
// divergent, or a node did not recover.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type CampaignReport, runCampaign } from './campaign.ts';

function markdown(r: CampaignReport): string {
  const lines = [
    `# Fault campaign, seed ${r.seed}, ${r.validators} validators, state-root interval ${r.stateRootInterval}`,
    '',
    `Duration ${(r.durationMs / 1000).toFixed(0)} s; ${r.faults} faults; ${r.submitted} transactions submitted,`,
    `${r.committedChecked} confirmed to the client and checked on every node.`,
    '',
    '| check | result |',
    '| --- | --- |',
    `| lost | ${r.lost} |`,
    `| duplicated | ${r.duplicated} |`,
    `| divergent | ${r.divergent} |`,
    `| every node recovered within 20 s | ${r.recovered ? 'yes' : 'NO'} (${r.recoveryMs.map((x) => (x === null ? '—' : `${x} ms`)).join(', ')}) |`,
    `| final heights | ${r.heights.join(', ')} |`,
    `| highest view | ${r.highestView} |`,
    '',
    '## Faults',
    '',
    '| at (s) | healed (s) | fault | nodes | detail |',
    '| --- | --- | --- | --- | --- |',
    ...r.faultLog.map(
      (f) =>
        `| ${(f.atMs / 1000).toFixed(1)} | ${f.healedAtMs === undefined ? '' : (f.healedAtMs / 1000).toFixed(1)} | ${f.kind} | ${f.targets.join(', ')} | ${f.detail ?? ''} |`,
    ),
    '',
    '## Timeline (heights per node, client confirmations per second)',
    '',
    '| t (s) | heights | views | confirmed/s |',
    '| --- | --- | --- | --- |',
  ];
  let prev = 0;
  for (const p of r.timeline) {
    lines.push(
      `| ${(p.atMs / 1000).toFixed(0)} | ${p.heights.map((h) => h ?? '×').join(' ')} | ${p.views.map((v) => v ?? '×').join(' ')} | ${p.confirmedTotal - prev} |`,
    );
    prev = p.confirmedTotal;
  }
  return `${lines.join('\n')}\n`;
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '120' },
      seed: { type: 'string', default: '1' },
      nodes: { type: 'string', default: '4' },
      rate: { type: 'string', default: '20' },
      /** The chain's state-root interval k (ADR 0117). */
      'root-interval': { type: 'string', default: '1' },
      out: { type: 'string', default: 'chaos-results' },
      json: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  const usage =
    'usage: npm run chaos -- --duration S (>= 30) --seed N [--nodes 4|7] [--rate TX_PER_S] [--root-interval K] [--json] [--out DIR] [--keep]';
  if (values.help) {
    console.log(`${usage}\n(docs/reliability.md describes the faults, the checks and the report)`);
    return 0;
  }
  const duration = Number(values.duration);
  const seed = Number(values.seed);
  const nodes = Number(values.nodes);
  const rate = Number(values.rate);
  const stateRootInterval = Number(values['root-interval']);
  if (
    !(duration >= 30) ||
    !Number.isSafeInteger(seed) ||
    ![4, 7].includes(nodes) ||
    !(rate > 0 && rate <= 500) ||
    !(Number.isSafeInteger(stateRootInterval) && stateRootInterval >= 1 && stateRootInterval <= 1024)
  ) {
    console.error(usage);
    return 2;
  }
  const dir = mkdtempSync(join(tmpdir(), `vigil-chaos-${seed}-`));
  const progress = values.json ? () => {} : (l: string) => console.log(l);
  try {
    const report = await runCampaign({
      dir,
      seed,
      durationMs: duration * 1000,
      validators: nodes,
      rate,
      stateRootInterval,
      log: progress,
    });
    const out = resolve(values.out);
    mkdirSync(out, { recursive: true });
    const base = join(out, `chaos-seed${seed}-n${nodes}`);
    writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(`${base}.md`, markdown(report));
    const summary = {
      faults: report.faults,
      committedChecked: report.committedChecked,
      lost: report.lost,
      duplicated: report.duplicated,
      divergent: report.divergent,
      recovered: report.recovered,
      report: `${base}.md`,
    };
    if (values.json) console.log(JSON.stringify(summary));
    else console.log(`\n${markdown(report).split('## Faults')[0]}report: ${base}.md`);
    const clean =
      report.lost === 0 &&
      report.duplicated === 0 &&
      report.divergent === 0 &&
      report.recovered &&
      report.unreadable.length === 0;
    return clean ? 0 : 1;
  } finally {
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
    else console.error(`network kept in ${dir}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(`chaos: ${err.message}`);
      process.exit(1);
    },
  );
}
