// Operations: liveness (/health: the process answers), readiness (/ready: the chain store is open and
// the node has peers or is alone in its validator set, and the consensus driver has not failed), and
// Prometheus metrics.
import { quorumSize } from '@vigil/consensus/wire';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.ts';

export function registerOpsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { validator } = ctx;
  app.get(
    '/health',
    {
      schema: {
        summary: 'Liveness',
        response: { 200: { type: 'object', properties: { status: { type: 'string' } } } },
      },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/ready',
    {
      schema: {
        summary: 'Readiness: store open, consensus running, connected to enough validators for a quorum',
        response: {
          200: { type: 'object', additionalProperties: true },
          503: { type: 'object', additionalProperties: true },
        },
      },
    },
    async (_req, reply) => {
      const reasons: string[] = [];
      let height = 0;
      try {
        height = validator.store.requireHead().height;
      } catch {
        reasons.push('chain store closed');
      }
      if (validator.driver.fatal) reasons.push('consensus driver failed');
      const quorum = quorumSize(validator.replica.epoch.validators.length);
      const connected = validator.network.peers().filter((p) => p.connected && p.role === 'validator').length;
      if (connected + 1 < quorum)
        reasons.push(`connected to ${connected} of the ${quorum - 1} validators a quorum needs`);
      const body = { ready: reasons.length === 0, height, reasons };
      return reply.code(reasons.length === 0 ? 200 : 503).send(body);
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        response: { 200: { type: 'string' } },
      },
    },
    async (_req, reply) => {
      const text = await ctx.metrics.registry.metrics();
      return reply.type(ctx.metrics.registry.contentType).send(text);
    },
  );
}
