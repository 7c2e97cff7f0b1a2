// Every fuzz target in the repository's one registry: the decoders (targets.ts) and the HTTP API
// (http-targets.ts, which needs a running in-process node).
import type { AnyFuzzTarget } from './harness.ts';
import { httpTargets } from './http-targets.ts';
import { decoderTargets } from './targets.ts';

export interface FuzzSuite {
  targets: AnyFuzzTarget[];
  close(): Promise<void>;
}

export async function allTargets(o: { http?: boolean; filter?: string } = {}): Promise<FuzzSuite> {
  const wanted = (t: AnyFuzzTarget) => o.filter === undefined || t.name.includes(o.filter);
  const decoders = decoderTargets().filter(wanted);
  const needHttp = o.http !== false && (o.filter === undefined || o.filter.startsWith('http'));
  if (!needHttp) return { targets: decoders, close: async () => undefined };
  const http = await httpTargets();
  return { targets: [...decoders, ...http.targets.filter(wanted)], close: http.close };
}
