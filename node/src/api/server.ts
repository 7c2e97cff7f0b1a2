// The node's HTTP API (fastify). This module builds the server and registers route groups; each group
// lives in its own module. Contract: docs/api.md (and docs/sensor-client.md for what devices rely on).
import Fastify, { type FastifyInstance } from 'fastify';
import type { Validator } from '../validator/validator.ts';
import { problem, sendProblem } from './problem.ts';
import { registerTransactionRoutes } from './routes/transactions.ts';

export interface ApiOptions {
  validator: Validator;
  /** Largest request body accepted, bytes (a cbor-seq batch of transactions). */
  bodyLimit?: number;
}

export async function buildApi(options: ApiOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimit ?? 8 * 1024 * 1024,
    // Never leak internals: unexpected errors become a generic 500 problem below.
    return503OnClosing: true,
  });
  // Binary bodies arrive as Buffers, untouched, so signatures are checked over the exact bytes sent.
  app.addContentTypeParser(
    ['application/cbor', 'application/cbor-seq'],
    { parseAs: 'buffer' },
    (_req, body, done) => done(null, body),
  );
  app.setErrorHandler((e, _req, reply) => {
    const err = e as { statusCode?: number; message?: string };
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 413) return sendProblem(reply, problem(413, 'BODY_TOO_LARGE', 'Request body too large'));
    if (status === 415)
      return sendProblem(
        reply,
        problem(415, 'UNSUPPORTED_MEDIA_TYPE', 'Unsupported content type', err.message),
      );
    if (status < 500) return sendProblem(reply, problem(status, 'BAD_REQUEST', 'Bad request', err.message));
    return sendProblem(reply, problem(500, 'INTERNAL', 'Internal error'));
  });
  app.setNotFoundHandler((req, reply) =>
    sendProblem(reply, problem(404, 'NOT_FOUND', 'No such route', req.url)),
  );
  registerTransactionRoutes(app, options.validator);
  app.get('/v1/status', async () => options.validator.status());
  app.get('/health', async () => ({ status: 'ok' }));
  return app;
}
