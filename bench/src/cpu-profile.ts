// Summaries of V8 CPU profiles (.cpuprofile, written by `node --cpu-prof`): self time by function and
// by area of the code base (which package, or node internals / GC / idle), so a report can name a
// bottleneck with its share of CPU. Pure: a profile in, tables out.

export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    hitCount?: number;
  }[];
  samples: number[];
  timeDeltas?: number[];
}

export interface Share {
  name: string;
  samples: number;
  /** Fraction of all samples (0..1). */
  share: number;
}

export interface ProfileSummary {
  samples: number;
  /** Samples that were not idle (the thread was on CPU); shares below are fractions of these. */
  busySamples: number;
  byFunction: Share[];
  byArea: Share[];
}

/** The area a frame's URL belongs to: a Vigil package folder, a dependency, node internals, or V8. */
export function areaOf(url: string, functionName: string): string {
  if (functionName === '(idle)') return '(idle)';
  if (functionName === '(garbage collector)') return '(garbage collector)';
  if (functionName === '(program)' || url === '') return '(program/native)';
  if (url.startsWith('node:')) return 'node internals';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const m = /\/(consensus|node|p2p|sensor-client|bench)\/src\/([^/]+)/.exec(url);
  if (m) return `${m[1]}/${m[2]!.replace(/\.ts$/, '')}`;
  return 'other';
}

function top(counts: Map<string, number>, total: number, limit: number): Share[] {
  return [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, limit)
    .map(([name, samples]) => ({ name, samples, share: total > 0 ? samples / total : 0 }));
}

export function summariseProfile(p: CpuProfile, limit = 15): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const fn = new Map<string, number>();
  const area = new Map<string, number>();
  let idle = 0;
  for (const id of p.samples) {
    const n = byId.get(id);
    if (n === undefined) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const a = areaOf(url, functionName);
    if (a === '(idle)') {
      idle++;
      continue;
    }
    const file = url.split('/').slice(-2).join('/');
    const key = `${functionName || '(anonymous)'} ${file}${url ? `:${lineNumber + 1}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + 1);
    area.set(a, (area.get(a) ?? 0) + 1);
  }
  const busy = p.samples.length - idle;
  return {
    samples: p.samples.length,
    busySamples: busy,
    byFunction: top(fn, busy, limit),
    byArea: top(area, busy, limit),
  };
}

/**
 * Merges several threads' summaries into shares of their combined busy samples (functions and areas
 * outside each summary's top list are not carried over, so merge summaries made with a generous limit).
 */
export function mergeSummaries(list: readonly ProfileSummary[], limit = 15): ProfileSummary {
  const fn = new Map<string, number>();
  const area = new Map<string, number>();
  let total = 0;
  let busy = 0;
  for (const s of list) {
    total += s.samples;
    busy += s.busySamples;
    for (const x of s.byFunction) fn.set(x.name, (fn.get(x.name) ?? 0) + x.samples);
    for (const x of s.byArea) area.set(x.name, (area.get(x.name) ?? 0) + x.samples);
  }
  return {
    samples: total,
    busySamples: busy,
    byFunction: top(fn, busy, limit),
    byArea: top(area, busy, limit),
  };
}

export interface ProfileWindow {
  /** Milliseconds from the profile's first sample. */
  fromMs: number;
  toMs: number;
  summary: ProfileSummary;
}

/**
 * The profile cut into `windows` equal spans of time, each summarised on its own. A cost that grows
 * while a process runs (a cache that gets slower once full, a structure that only grows) hides in a
 * whole-run summary and stands out here: how the cache-eviction slowdown of 4d58c4e was found.
 */
export function summariseProfileWindows(p: CpuProfile, windows: number, limit = 15): ProfileWindow[] {
  if (!Number.isSafeInteger(windows) || windows < 1) throw new RangeError('windows must be >= 1');
  const deltas = p.timeDeltas ?? p.samples.map(() => 1);
  const at = new Float64Array(p.samples.length);
  let t = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += Math.max(0, deltas[i] ?? 0);
    at[i] = t;
  }
  const first = at.length > 0 ? at[0]! : 0;
  const span = Math.max(1, (at.length > 0 ? at[at.length - 1]! : 0) - first);
  const parts: number[][] = Array.from({ length: windows }, () => []);
  for (let i = 0; i < p.samples.length; i++) {
    const k = Math.min(windows - 1, Math.floor(((at[i]! - first) / span) * windows));
    parts[k]!.push(p.samples[i]!);
  }
  // timeDeltas are microseconds (V8's Profile.timeDeltas).
  return parts.map((samples, k) => ({
    fromMs: (k * span) / windows / 1000,
    toMs: ((k + 1) * span) / windows / 1000,
    summary: summariseProfile({ nodes: p.nodes, samples }, limit),
  }));
}
