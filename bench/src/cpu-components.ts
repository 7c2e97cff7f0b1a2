// Where validator CPU goes, by kind of work rather than by file: each busy sample of a V8 CPU profile
// is attributed by walking its stack from the running frame outwards to the first frame that names a
// component. Hashing inside the state tree is state-tree work, a LevelDB put inside the executor is
// storage work, a signature check inside mempool admission is signature verification. The bench
// report names the bottleneck from these shares when a throughput target is missed (issue 9).
import { areaOf, type CpuProfile, type Share } from './cpu-profile.ts';

export const Component = {
  gc: 'garbage collection',
  signatures: 'ed25519 signature checks',
  stateTree: 'state tree (Merkle updates, hashing)',
  storage: 'LevelDB and the chain store',
  cbor: 'canonical CBOR encoding and decoding',
  execution: 'block execution (framework, handlers)',
  mempool: 'mempool admission',
  consensus: 'PBFT core and its driver',
  encryption: 'network: noise encryption',
  network: 'network: libp2p streams, muxing, framing',
  http: 'HTTP API (fastify, JSON, SSE)',
  metrics: 'metrics (prom-client)',
  startup: 'start-up (loading and compiling modules)',
  other: 'other (V8 runtime, node internals)',
} as const;
export type Component = (typeof Component)[keyof typeof Component];

type Frame = { functionName: string; url: string };

/** The component one frame names, or undefined when the frame alone does not decide it. */
export function componentOfFrame(f: Frame): Component | undefined {
  const { functionName: fn, url } = f;
  if (fn === '(garbage collector)') return Component.gc;
  // Node's module loader and bootstrap: compiling a module is start-up work whoever required it (a
  // verification worker's first message loads its modules under a package's own require).
  if (/^node:internal\/(modules|main|bootstrap)\//.test(url)) return Component.startup;
  if (fn === 'verifyOneShot' || /\/node\/src\/(verify-pool|crypto)\//.test(url) || /@noble\//.test(url))
    return Component.signatures;
  if (/\/node\/src\/state-tree\/|\/consensus\/src\/proof\//.test(url)) return Component.stateTree;
  if (
    /\/node_modules\/(classic-level|abstract-level|level-transcoder|level|maybe-combine-errors)\//.test(url)
  )
    return Component.storage;
  if (/\/node\/src\/(store|consensus-store)\//.test(url)) return Component.storage;
  if (/\/consensus\/src\/wire\/|\/node_modules\/cbor-x\//.test(url)) return Component.cbor;
  if (/\/node\/src\/(exec|state-machine)\//.test(url)) return Component.execution;
  if (/\/node\/src\/mempool\//.test(url)) return Component.mempool;
  if (/\/consensus\/src\/|\/node\/src\/driver\//.test(url)) return Component.consensus;
  if (
    /\/node_modules\/@chainsafe\/(libp2p-noise|as-chacha20poly1305)\/|\/node_modules\/@noble\/ciphers\//.test(
      url,
    )
  )
    return Component.encryption;
  if (
    /\/node_modules\/(@libp2p\/|libp2p\/|@chainsafe\/libp2p-yamux\/|it-|uint8arraylist\/)|\/p2p\/src\//.test(
      url,
    )
  )
    return Component.network;
  if (
    /\/node_modules\/(fastify|@fastify\/|find-my-way|ajv|fast-json-stringify|light-my-request|avvio)|\/node\/src\/api\//.test(
      url,
    )
  )
    return Component.http;
  if (/\/node_modules\/prom-client\//.test(url)) return Component.metrics;
  return undefined;
}

type ProfileWithStacks = CpuProfile & { nodes: { children?: number[] }[] };

/** A function giving the component of any node of `p` (memoised per node: it depends only on the
 *  node's own stack). */
function classifier(p: ProfileWithStacks): (id: number) => Component {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const decided = new Map<number, Component>();
  return (id: number): Component => {
    // Walk outwards to the first frame naming a component, or to a node already decided, or to the
    // root (then: other); every node on the way gets that answer.
    const path: number[] = [];
    let found: Component = Component.other;
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const known = decided.get(x);
      if (known !== undefined) {
        found = known;
        break;
      }
      path.push(x);
      const c = componentOfFrame(byId.get(x)!.callFrame);
      if (c !== undefined) {
        found = c;
        break;
      }
    }
    for (const x of path) decided.set(x, found);
    return found;
  };
}

function toShares(counts: Map<string, number>, total: number, limit = Number.POSITIVE_INFINITY): Share[] {
  return [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, limit)
    .map(([name, samples]) => ({ name, samples, share: total > 0 ? samples / total : 0 }));
}

/**
 * Busy samples by component, as shares of all busy samples of the profile (idle excluded). A sample
 * no frame of which names a component is `other`.
 */
export function componentShares(p: ProfileWithStacks): Share[] {
  const componentOf = classifier(p);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const counts = new Map<string, number>();
  let busy = 0;
  for (const id of p.samples) {
    const n = byId.get(id);
    if (n === undefined) continue;
    if (areaOf(n.callFrame.url, n.callFrame.functionName) === '(idle)') continue;
    busy++;
    const c = componentOf(id);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  return toShares(counts, busy);
}

/**
 * Self time by function (named as summariseProfile names them) over the busy samples that are not
 * start-up: what the process spends its running life on, without the module loading of its first
 * seconds, which a short profile otherwise shows among the largest.
 */
export function runningFunctionCounts(p: ProfileWithStacks): Map<string, number> {
  const componentOf = classifier(p);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const counts = new Map<string, number>();
  for (const id of p.samples) {
    const n = byId.get(id);
    if (n === undefined) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    if (areaOf(url, functionName) === '(idle)' || componentOf(id) === Component.startup) continue;
    const file = url.split('/').slice(-2).join('/');
    const key = `${functionName || '(anonymous)'} ${file}${url ? `:${lineNumber + 1}` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Several threads' or processes' component shares combined into shares of their summed samples. */
export function mergeComponentShares(list: readonly Share[][]): Share[] {
  const counts = new Map<string, number>();
  let total = 0;
  for (const shares of list)
    for (const s of shares) {
      counts.set(s.name, (counts.get(s.name) ?? 0) + s.samples);
      total += s.samples;
    }
  return toShares(counts, total);
}

/** Shares without one component, renormalised over the rest; and how many samples it had. */
export function withoutComponent(
  shares: readonly Share[],
  name: Component,
): { shares: Share[]; removed: number } {
  const removed = shares.find((s) => s.name === name)?.samples ?? 0;
  const rest = new Map(shares.filter((s) => s.name !== name).map((s) => [s.name, s.samples]));
  let total = 0;
  for (const n of rest.values()) total += n;
  return { shares: toShares(rest, total), removed };
}

/** Function counts of several threads, as the `limit` largest shares of their summed `total`. */
export function topFunctions(list: readonly Map<string, number>[], limit: number): Share[] {
  const counts = new Map<string, number>();
  let total = 0;
  for (const m of list)
    for (const [k, n] of m) {
      counts.set(k, (counts.get(k) ?? 0) + n);
      total += n;
    }
  return toShares(counts, total, limit);
}
