import t from 'tap';
import { parseArgs, usage } from './args.ts';

const SPEC = {
  patients: { kind: 'number', default: 20, help: 'patients' },
  nodes: { kind: 'string', default: 'http://x', help: 'nodes' },
  dataDir: { kind: 'string', default: 'd', help: 'dir' },
  dryRun: { kind: 'flag', help: 'dry' },
} as const;

t.test('defaults, kebab-case and camelCase names, flags', async (t) => {
  t.same(parseArgs([], SPEC), { patients: 20, nodes: 'http://x', dataDir: 'd', dryRun: false });
  t.same(parseArgs(['--patients', '3', '--data-dir', '/a', '--dry-run'], SPEC), {
    patients: 3,
    nodes: 'http://x',
    dataDir: '/a',
    dryRun: true,
  });
  t.equal(parseArgs(['--dataDir', '/b'], SPEC).dataDir, '/b', 'the spelling npm start uses');
  t.match(usage(SPEC), /--data-dir <string>/);
});

t.test('usage errors are typed', async (t) => {
  t.throws(() => parseArgs(['--patients', 'zero'], SPEC), { code: 'USAGE' });
  t.throws(() => parseArgs(['--patients'], SPEC), { code: 'USAGE' });
  t.throws(() => parseArgs(['--nope'], SPEC), { code: 'USAGE' });
  t.throws(() => parseArgs(['stray'], SPEC), { code: 'USAGE' });
});
