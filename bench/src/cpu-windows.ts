// `npm run bench -- cpu-windows FILE.cpuprofile [--windows 5] [--limit 8]`: a CPU profile (from
// `probe --cpu-prof DIR`, `profile`, or any `node --cpu-prof`) cut into equal spans of time, each with
// its busy share and its top areas and functions, to see a cost that grows while the process runs.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type CpuProfile, summariseProfileWindows } from './cpu-profile.ts';
import { BenchError } from './errors.ts';

export async function main(argv: string[] = process.argv.slice(3)): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      windows: { type: 'string', default: '5' },
      limit: { type: 'string', default: '8' },
    },
    allowPositionals: true,
    strict: true,
  });
  const windows = Number(values.windows);
  const limit = Number(values.limit);
  if (!Number.isSafeInteger(windows) || windows < 1 || !Number.isSafeInteger(limit) || limit < 1)
    throw new BenchError('USAGE', '--windows and --limit must be positive integers');
  if (positionals.length === 0) throw new BenchError('USAGE', 'give one or more .cpuprofile files');
  const pct = (x: number) => `${(100 * x).toFixed(1).padStart(5)} %`;
  for (const file of positionals) {
    let profile: CpuProfile;
    try {
      profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    } catch (e) {
      throw new BenchError('USAGE', `${file}: not a readable CPU profile (${(e as Error).message})`);
    }
    console.log(file);
    for (const w of summariseProfileWindows(profile, windows, limit)) {
      const s = w.summary;
      const busy = s.samples > 0 ? s.busySamples / s.samples : 0;
      console.log(
        `  ${(w.fromMs / 1000).toFixed(1)}-${(w.toMs / 1000).toFixed(1)} s: ${s.samples} samples, ${pct(busy)} busy`,
      );
      for (const a of s.byArea) console.log(`    ${pct(a.share)}  ${a.name}`);
      for (const f of s.byFunction) console.log(`    ${pct(f.share)}  ${f.name}`);
    }
  }
}
