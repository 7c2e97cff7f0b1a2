// Minimal `--name value` / `--flag` parser with typed errors, shared by the CLIs.

import { SdkError } from '../sdk/errors.ts';

export type ArgSpec = Record<
  string,
  { kind: 'number' | 'string' | 'flag'; default?: number | string | boolean; help: string }
>;

export type ParsedArgs<S extends ArgSpec> = {
  [K in keyof S]: S[K]['kind'] extends 'number' ? number : S[K]['kind'] extends 'flag' ? boolean : string;
};

export function parseArgs<S extends ArgSpec>(argv: readonly string[], spec: S): ParsedArgs<S> {
  const out: Record<string, number | string | boolean | undefined> = {};
  for (const [k, s] of Object.entries(spec)) out[k] = s.kind === 'flag' ? (s.default ?? false) : s.default;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new SdkError('USAGE', `unexpected argument ${a}`);
    const name = a.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const s = spec[name];
    if (!s) throw new SdkError('USAGE', `unknown option ${a}`);
    if (s.kind === 'flag') {
      out[name] = true;
      continue;
    }
    const v = argv[++i];
    if (v === undefined) throw new SdkError('USAGE', `${a} needs a value`);
    if (s.kind === 'number') {
      const n = Number(v);
      if (!Number.isFinite(n)) throw new SdkError('USAGE', `${a} must be a number`);
      out[name] = n;
    } else out[name] = v;
  }
  for (const [k, s] of Object.entries(spec)) {
    if (out[k] === undefined && s.kind !== 'flag') throw new SdkError('USAGE', `--${k} is required`);
  }
  return out as ParsedArgs<S>;
}

export function usage(spec: ArgSpec): string {
  return Object.entries(spec)
    .map(([k, s]) => {
      const flag = '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
      const def = s.default === undefined ? '' : ` (default ${String(s.default)})`;
      return `  ${flag}${s.kind === 'flag' ? '' : ` <${s.kind}>`}  ${s.help}${def}`;
    })
    .join('\n');
}
