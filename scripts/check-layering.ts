// Layering check for what Biome's noRestrictedImports/noRestrictedGlobals cannot express
// (member accesses such as Math.random, and dynamic import() calls). Run by `npm run lint`.
// The rules themselves are ADR 0002: consensus/ is pure; p2p/ and sensor-client/ never import node/.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

export interface LayeringViolation {
  file: string;
  line: number;
  rule: string;
  text: string;
}

interface Rule {
  name: string;
  /** Top-level folders the rule applies to. */
  appliesTo: readonly string[];
  pattern: RegExp;
}

const RULES: readonly Rule[] = [
  { name: 'consensus-no-randomness', appliesTo: ['consensus'], pattern: /\bMath\s*\.\s*random\b/ },
  {
    name: 'consensus-no-randomness',
    appliesTo: ['consensus'],
    pattern: /\bgetRandomValues\b|\brandomBytes\b/,
  },
  { name: 'consensus-no-clock', appliesTo: ['consensus'], pattern: /\bhrtime\b|\bDate\s*\.\s*now\b/ },
  {
    name: 'consensus-no-dynamic-io-import',
    appliesTo: ['consensus'],
    pattern:
      /\bimport\s*\(\s*['"](node:(net|fs|timers|crypto|http|dgram|child_process)|level|libp2p|@libp2p|@vigil\/(node|p2p))/,
  },
  {
    name: 'nothing-imports-node',
    appliesTo: ['consensus', 'p2p', 'sensor-client'],
    pattern: /from\s+['"](@vigil\/node|(\.\.\/)+node\/)|import\s*\(\s*['"](@vigil\/node|(\.\.\/)+node\/)/,
  },
];

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry.startsWith('.')) continue;
    const full = join(dir, entry);
    if (statSync(full).isDirectory()) yield* sourceFiles(full);
    else if (/\.(ts|js|mjs)$/.test(entry)) yield full;
  }
}

/** Strip // and /* comments so that prose about Math.random does not trip the check. */
function stripComments(line: string, inBlock: { open: boolean }): string {
  let out = '';
  let i = 0;
  while (i < line.length) {
    if (inBlock.open) {
      const end = line.indexOf('*/', i);
      if (end < 0) return out;
      inBlock.open = false;
      i = end + 2;
      continue;
    }
    if (line.startsWith('/*', i)) {
      inBlock.open = true;
      i += 2;
      continue;
    }
    if (line.startsWith('//', i)) return out;
    out += line[i];
    i++;
  }
  return out;
}

export function checkLayering(root: string): LayeringViolation[] {
  const violations: LayeringViolation[] = [];
  const tops = new Set(RULES.flatMap((r) => r.appliesTo));
  for (const top of tops) {
    let files: string[];
    try {
      files = [...sourceFiles(join(root, top))];
    } catch {
      continue;
    }
    for (const file of files) {
      const lines = readFileSync(file, 'utf8').split('\n');
      const block = { open: false };
      lines.forEach((raw, idx) => {
        const code = stripComments(raw, block);
        for (const rule of RULES) {
          if (!rule.appliesTo.includes(top)) continue;
          if (rule.pattern.test(code)) {
            violations.push({
              file: relative(root, file).split(sep).join('/'),
              line: idx + 1,
              rule: rule.name,
              text: raw.trim(),
            });
          }
        }
      });
    }
  }
  return violations;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const violations = checkLayering(process.cwd());
  for (const v of violations) console.error(`${v.file}:${v.line}  ${v.rule}  ${v.text}`);
  if (violations.length > 0) {
    console.error(`layering: ${violations.length} violation(s); see docs/adr/0002-layering-and-purity.md`);
    process.exit(1);
  }
  console.log('layering: ok');
}
