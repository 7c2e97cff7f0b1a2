// The node's HTTP API (fastify). This module builds the server, installs the hardening (body limits,
// rate limits, closed CORS, problem-only errors, optional TLS), metrics and OpenAPI, and registers the
// route groups; each group lives in its own module. Contract: docs/api.md (generated routes are
// checked against it by api.test.ts) and docs/sensor-client.md for what devices rely on.
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import { Ajv } from 'ajv';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import { decodeNonce, nonceKey } from '../exec/accounts.ts';
import { AccessDenied, QueryError } from '../state-machine/index.ts';
import { StoreError } from '../store/errors.ts';
import type { Validator } from '../validator/validator.ts';
import { AccessRecorder, type AccessRecorderOptions } from './access-recorder.ts';
import type { ApiContext } from './context.ts';
import { registerDashboard } from './dashboard.ts';
import { FHIR_JSON, operationOutcome } from './fhir/resources.ts';
import { registerFhirRoutes } from './fhir/routes.ts';
import { ApiMetrics } from './metrics.ts';
import { registerDocsRoutes, registerOpenApi } from './openapi.ts';
import { ApiError, problem, problemSchema, sendProblem } from './problem.ts';
import { storeReadView } from './read-view.ts';
import { MAX_KEY_HEX, registerChainRoutes } from './routes/chain.ts';
import { registerEventRoutes } from './routes/events.ts';
import { registerOpsRoutes } from './routes/ops.ts';
import { registerPatientRoutes } from './routes/patients.ts';
import { registerTransactionRoutes } from './routes/transactions.ts';
import { AuthError, ReplayGuard, type ReplayGuardOptions } from './signed-request.ts';
import { TxJsonError } from './tx-json.ts';

export interface ApiOptions {
  validator: Validator;
  /** Largest request body accepted, bytes (a batch of transactions). Default 8 MiB. */
  bodyLimit?: number;
  /** Requests per client IP per window; false disables (benchmarks behind their own limiter). */
  rateLimit?: { max: number; timeWindowMs: number } | false;
  /** Origins allowed by CORS; none by default (closed). */
  corsOrigins?: string[];
  /** TLS: PEM key and certificate. */
  https?: { key: string | Buffer; cert: string | Buffer };
  replay?: ReplayGuardOptions;
  accessRecorder?: AccessRecorderOptions;
  /**
   * Behind a reverse proxy: trust its X-Forwarded-For so rate limits apply per real client (fastify's
   * trustProxy: true, or the proxies' addresses). Default false: the socket address is the client.
   */
  trustProxy?: boolean | string[];
  /** Concurrent /v1/events streams; more get 503 UNAVAILABLE. Default 256. */
  maxEventSubscribers?: number;
  /** The web dashboard's settings (docs/dashboard.md): its automatic logoff. */
  dashboard?: { idleSignOutMs?: number };
  /** Most alerts sent again to one resuming event subscriber (ADR 0130). Default 4,096; tests make a gap with fewer. */
  maxReplayedAlerts?: number;
  /** Process metrics (CPU, memory, event loop) in /metrics. Default true. */
  defaultMetrics?: boolean;
  now?: () => number;
}

// Generous: a devnet or a ward gateway sends every device's traffic from one address; the limit is there to
// stop a runaway or hostile client, not to shape normal load (vigil start --rate-limit N tunes it).
export const DEFAULT_RATE_LIMIT = { max: 60_000, timeWindowMs: 60_000 };

/**
 * The router refuses a longer path parameter before any route sees it, so this is the longest any route
 * takes: a /v1/proofs state key in hex. (It was 256 while that route allowed 512, so keys the route's
 * schema accepted were cut off by the router.) Every other parameter's schema is tighter.
 */
export const MAX_PARAM_LENGTH = MAX_KEY_HEX;

/**
 * Errors fastify's router raises before any route, hook or error handler runs (a path parameter over
 * MAX_PARAM_LENGTH, a path that is not valid percent-encoding). Without this fastify answers its own
 * JSON with FST_ERR_* codes; clients get the API's problem (an OperationOutcome under /fhir) instead,
 * and nothing of the path is echoed back.
 */
function frameworkError(e: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const [status, code, title, issue] =
    e.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? [414, 'URL_TOO_LONG', `A path parameter is longer than ${MAX_PARAM_LENGTH} characters`, 'too-long']
      : e.code === 'FST_ERR_BAD_URL'
        ? [400, 'MALFORMED_URL', 'The path is not valid percent-encoding', 'invalid']
        : [500, 'INTERNAL', 'Internal error', 'exception'];
  const path = req.url.split('?', 1)[0]!;
  if (path === '/fhir' || path.startsWith('/fhir/')) {
    void reply
      .code(status)
      .header('content-type', `${FHIR_JSON}; charset=utf-8`)
      .send(JSON.stringify(operationOutcome(code, issue, title)));
    return;
  }
  void reply
    .code(status)
    .header('content-type', 'application/problem+json; charset=utf-8')
    .send(JSON.stringify(problem(status, code, title)));
}

function fastifyOptions(o: ApiOptions): FastifyServerOptions {
  const base: FastifyServerOptions = {
    logger: false,
    bodyLimit: o.bodyLimit ?? 8 * 1024 * 1024,
    return503OnClosing: true,
    trustProxy: o.trustProxy ?? false,
    // Hostile-input bounds on everything fastify parses before a handler runs.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: frameworkError,
  };
  return o.https ? ({ ...base, https: o.https } as FastifyServerOptions) : base;
}

export async function buildApi(options: ApiOptions): Promise<FastifyInstance> {
  const { validator } = options;
  const app = Fastify(fastifyOptions(options));
  const now = options.now ?? Date.now;
  const metrics = new ApiMetrics(validator, { defaultMetrics: options.defaultMetrics ?? true });
  const recorder = new AccessRecorder(
    {
      chainId: validator.genesis.chainId,
      signer: validator.signer,
      submit: (bytes) => validator.submit(bytes),
      pending: () => validator.mempool.pendingCount(validator.signer.publicKey),
      lastNonce: async () => {
        const key = validator.signer.publicKey;
        const committed = decodeNonce(await validator.store.state.get(nonceKey(key)));
        return Math.max(committed, validator.mempool.pendingNonce(key) ?? 0);
      },
      now,
      onError: () => metrics.accessRecords.inc({ result: 'failed' }),
    },
    options.accessRecorder,
  );
  const ctx: ApiContext = {
    validator,
    chainId: validator.genesis.chainId,
    view: storeReadView(validator.store),
    guard: new ReplayGuard(options.replay),
    recorder,
    metrics,
    now,
  };

  // Query strings, path parameters and headers are text, so their schemas coerce ("5" -> 5); a JSON body
  // is typed already and must not be coerced (`"nonce": true` is an error, not nonce 1). Nothing is
  // removed or defaulted silently: what is validated is what the handler sees.
  const coercing = new Ajv({
    coerceTypes: 'array',
    removeAdditional: false,
    useDefaults: false,
    strict: false,
  });
  const exact = new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: false, strict: false });
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? exact : coercing).compile(schema),
  );
  // Binary bodies arrive as Buffers, untouched, so signatures are checked over the exact bytes sent.
  app.addContentTypeParser(
    ['application/cbor', 'application/cbor-seq'],
    { parseAs: 'buffer' },
    (_req, body, done) => done(null, body),
  );
  app.addSchema(problemSchema);
  app.setErrorHandler((e, _req, reply) => {
    if (e instanceof ApiError) {
      if (e.retryAfterS !== undefined) reply.header('retry-after', String(e.retryAfterS));
      return sendProblem(reply, problem(e.status, e.code, e.title, e.detail));
    }
    if (e instanceof AuthError)
      return sendProblem(reply, problem(e.status, e.code, 'Not authenticated', e.message));
    if (e instanceof AccessDenied) {
      // A refused read is audited too (the on-chain trail records served reads): a counter by code and
      // a warn line naming the authenticated reader, the target and the purpose.
      metrics.accessDenied.inc({ code: e.code });
      _req.log.warn(
        {
          audit: 'access-denied',
          code: e.code,
          reader: _req.headers['x-vigil-key'],
          purpose: _req.headers['x-vigil-purpose'],
          target: _req.url,
        },
        'patient-data read denied',
      );
      return sendProblem(reply, problem(403, e.code, 'Access denied', e.message));
    }
    // Tamper evidence: a stored record that fails its hash check is refused with its code, never served.
    if (e instanceof StoreError && (e.code === 'CORRUPT_RECORD' || e.code === 'CORRUPT_STATE'))
      return sendProblem(reply, problem(500, e.code, 'Stored data failed its integrity check', e.message));
    if (e instanceof QueryError) return sendProblem(reply, problem(400, e.code, 'Bad query', e.message));
    if (e instanceof TxJsonError)
      return sendProblem(reply, problem(400, e.code, 'Bad transaction', e.message));
    const err = e as { statusCode?: number; message?: string; code?: string; validation?: unknown };
    if (err.validation)
      return sendProblem(reply, problem(400, 'INVALID_REQUEST', 'Invalid request', err.message));
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 413) return sendProblem(reply, problem(413, 'BODY_TOO_LARGE', 'Request body too large'));
    if (status === 415)
      return sendProblem(
        reply,
        problem(415, 'UNSUPPORTED_MEDIA_TYPE', 'Unsupported content type', err.message),
      );
    if (status === 429)
      return sendProblem(reply, problem(429, 'RATE_LIMITED', 'Too many requests', err.message));
    if (
      err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
      err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ||
      e instanceof SyntaxError
    )
      return sendProblem(reply, problem(400, 'MALFORMED_JSON', 'Body is not valid JSON'));
    if (status < 500) return sendProblem(reply, problem(status, 'BAD_REQUEST', 'Bad request', err.message));
    return sendProblem(reply, problem(500, 'INTERNAL', 'Internal error'));
  });
  app.setNotFoundHandler((req, reply) =>
    sendProblem(reply, problem(404, 'NOT_FOUND', 'No such route', req.url)),
  );

  await app.register(cors, {
    origin: options.corsOrigins && options.corsOrigins.length > 0 ? options.corsOrigins : false,
  });
  const rl = options.rateLimit === undefined ? DEFAULT_RATE_LIMIT : options.rateLimit;
  if (rl) {
    await app.register(rateLimit, {
      global: true,
      max: rl.max,
      timeWindow: rl.timeWindowMs,
      // Probes must keep answering when a client floods the node.
      allowList: (req) => req.url === '/health' || req.url === '/ready' || req.url === '/metrics',
      errorResponseBuilder: (_req, c) => ({ statusCode: 429, message: `limit ${c.max} per ${c.after}` }),
    });
  }
  await registerOpenApi(app);

  app.addHook('onResponse', async (req, reply) => {
    metrics.httpLatency.observe(
      { method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
  app.addHook('onClose', async () => {
    await recorder.close();
    metrics.close();
  });

  registerTransactionRoutes(app, ctx);
  registerChainRoutes(app, ctx);
  registerPatientRoutes(app, ctx);
  registerEventRoutes(app, ctx, options.maxEventSubscribers, options.maxReplayedAlerts);
  await registerFhirRoutes(app, ctx);
  registerOpsRoutes(app, ctx);
  registerDocsRoutes(app);
  await registerDashboard(app, { idleSignOutMs: options.dashboard?.idleSignOutMs });
  return app;
}
