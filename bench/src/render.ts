// `npm run bench -- render bench/results/<record>.json`: re-renders a record's Markdown report and SVG
// charts (and checks the record against the schema). Reports are pure functions of records, so this
// reproduces a report exactly, or brings an old record up to the current report format.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchError } from './errors.ts';
import { validateRecord } from './record.ts';
import { renderReport } from './report.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

export async function main(argv: string[] = process.argv.slice(3)): Promise<void> {
  const file = argv[0];
  if (file === undefined || !file.endsWith('.json'))
    throw new BenchError('USAGE', 'usage: npm run bench -- render RECORD.json');
  const path = resolve(file);
  const record: unknown = JSON.parse(readFileSync(path, 'utf8'));
  validateRecord(record);
  const name = basename(path, '.json');
  const report = renderReport(record, relative(REPO, path), name);
  writeFileSync(join(dirname(path), `${name}.md`), report.markdown);
  for (const [chart, svg] of Object.entries(report.charts)) writeFileSync(join(dirname(path), chart), svg);
  console.log(`rendered ${name}.md and ${Object.keys(report.charts).length} charts`);
}
