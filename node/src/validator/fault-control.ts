// Fault injection for validators running as separate processes (benchmarks, fault campaigns). This
// machine has no `tc netem`, so latency, loss, partitions and one-way cuts are applied by p2p's
// in-process FaultLayer; these two switches reach it from outside the process:
//   VIGIL_FAULTS='{"latencyMs":50,"jitterMs":5,"loss":0.01,"seed":7}'   a default fault on every
//                                                                outbound link, from start
//   VIGIL_FAULT_CONTROL=<port>                                   a loopback-only HTTP endpoint to change
//                                                                faults at run time (POST /faults)
// Neither is ever set in production; a validator without them has an inactive fault layer.
import { createServer, type Server } from 'node:http';
import { FaultLayer, type LinkFault } from '@vigil/p2p';

export class FaultControlError extends Error {
  readonly code = 'BAD_FAULT_COMMAND';
  constructor(message: string) {
    super(message);
    this.name = 'FaultControlError';
  }
}

export type FaultCommand =
  | { op: 'setDefault'; fault: LinkFault }
  | { op: 'setLink'; from: string; to: string; fault: LinkFault | null }
  | { op: 'partition'; groups: string[][] }
  | { op: 'heal' }
  | { op: 'cut'; from: string; to: string }
  | { op: 'restore'; from: string; to: string }
  | { op: 'reset' };

const KEY = /^[0-9a-f]{64}$/;

function linkFault(v: unknown): LinkFault {
  if (typeof v !== 'object' || v === null) throw new FaultControlError('fault must be an object');
  const f = v as Record<string, unknown>;
  const out: LinkFault = {};
  for (const k of ['latencyMs', 'jitterMs'] as const) {
    if (f[k] === undefined) continue;
    if (typeof f[k] !== 'number' || !(f[k] >= 0 && f[k] <= 60_000))
      throw new FaultControlError(`${k}: 0..60000`);
    out[k] = f[k];
  }
  if (f.loss !== undefined) {
    if (typeof f.loss !== 'number' || !(f.loss >= 0 && f.loss <= 1))
      throw new FaultControlError('loss: 0..1');
    out.loss = f.loss;
  }
  if (f.reorder !== undefined) out.reorder = f.reorder === true;
  return out;
}

function key(v: unknown, what: string): string {
  if (typeof v !== 'string' || !KEY.test(v)) throw new FaultControlError(`${what}: a validator key in hex`);
  return v;
}

/** Validates a command from outside; throws FaultControlError on anything unexpected. */
export function parseFaultCommand(v: unknown): FaultCommand {
  if (typeof v !== 'object' || v === null) throw new FaultControlError('command must be an object');
  const c = v as Record<string, unknown>;
  switch (c.op) {
    case 'setDefault':
      return { op: 'setDefault', fault: linkFault(c.fault) };
    case 'setLink':
      return {
        op: 'setLink',
        from: key(c.from, 'from'),
        to: key(c.to, 'to'),
        fault: c.fault === null ? null : linkFault(c.fault),
      };
    case 'partition': {
      if (!Array.isArray(c.groups) || c.groups.length > 64)
        throw new FaultControlError('groups: an array of key arrays');
      return {
        op: 'partition',
        groups: c.groups.map((g, i) => {
          if (!Array.isArray(g)) throw new FaultControlError(`groups[${i}] must be an array`);
          return g.map((k, j) => key(k, `groups[${i}][${j}]`));
        }),
      };
    }
    case 'cut':
    case 'restore':
      return { op: c.op, from: key(c.from, 'from'), to: key(c.to, 'to') };
    case 'heal':
    case 'reset':
      return { op: c.op };
    default:
      throw new FaultControlError(`unknown op ${String(c.op)}`);
  }
}

export function applyFaultCommand(layer: FaultLayer, c: FaultCommand): void {
  switch (c.op) {
    case 'setDefault':
      layer.setDefault(c.fault);
      break;
    case 'setLink':
      layer.setLink(c.from, c.to, c.fault ?? undefined);
      break;
    case 'partition':
      layer.partition(c.groups);
      break;
    case 'heal':
      layer.heal();
      break;
    case 'cut':
      layer.cut(c.from, c.to);
      break;
    case 'restore':
      layer.restore(c.from, c.to);
      break;
    case 'reset':
      layer.reset();
      break;
  }
}

/** The fault layer the environment asks for, or undefined when neither switch is set. */
export function faultLayerFromEnv(env: NodeJS.ProcessEnv = process.env): FaultLayer | undefined {
  if (!env.VIGIL_FAULTS?.trim() && !env.VIGIL_FAULT_CONTROL) return undefined;
  let doc: Record<string, unknown> = {};
  if (env.VIGIL_FAULTS?.trim()) {
    try {
      doc = JSON.parse(env.VIGIL_FAULTS) as Record<string, unknown>;
    } catch {
      throw new FaultControlError('VIGIL_FAULTS is not JSON');
    }
  }
  const seed = typeof doc.seed === 'number' && Number.isSafeInteger(doc.seed) ? doc.seed : 1;
  const layer = new FaultLayer({ seed });
  const { seed: _seed, ...fault } = doc;
  layer.setDefault(linkFault(fault));
  return layer;
}

/** Starts the loopback-only control endpoint; returns the server (close it on shutdown). */
export function startFaultControl(layer: FaultLayer, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const reply = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST' || req.url !== '/faults') return reply(404, { code: 'NOT_FOUND' });
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 64 * 1024) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      try {
        applyFaultCommand(layer, parseFaultCommand(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
        reply(200, { ok: true });
      } catch (e) {
        reply(400, { code: 'BAD_FAULT_COMMAND', detail: (e as Error).message });
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
