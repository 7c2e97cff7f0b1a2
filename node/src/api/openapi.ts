// OpenAPI 3 from the routes' own JSON Schemas (@fastify/swagger), served as JSON at /docs/openapi.json
// and as a small self-contained HTML index at /docs (no third-party assets: the node may run offline).
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';

export const API_VERSION = '1.0.0';

export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Vigil node API',
        version: API_VERSION,
        description:
          'Transactions, blocks, proofs, signed patient-data reads, events and FHIR R4. Errors are RFC 9457 problems with a stable `code`. Reference: docs/api.md.',
      },
      components: {
        securitySchemes: {
          vigilSignature: {
            type: 'apiKey',
            in: 'header',
            name: 'x-vigil-signature',
            description:
              'Ed25519 request signature with x-vigil-key, x-vigil-timestamp, x-vigil-nonce, x-vigil-purpose (docs/api.md, "Signed requests")',
          },
        },
      },
    },
  });
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function registerDocsRoutes(app: FastifyInstance): void {
  app.get('/docs/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/docs', { schema: { hide: true } }, async (_req, reply) => {
    const doc = app.swagger() as { paths?: Record<string, Record<string, { summary?: string }>> };
    const rows = Object.entries(doc.paths ?? {})
      .flatMap(([path, ops]) =>
        Object.entries(ops).map(
          ([method, op]) =>
            `<tr><td>${method.toUpperCase()}</td><td><code>${escapeHtml(path)}</code></td><td>${escapeHtml(op.summary ?? '')}</td></tr>`,
        ),
      )
      .join('\n');
    return reply
      .type('text/html; charset=utf-8')
      .send(
        `<!doctype html><html><head><meta charset="utf-8"><title>Vigil node API</title></head><body><h1>Vigil node API</h1><p>OpenAPI 3 document: <a href="/docs/openapi.json">/docs/openapi.json</a></p><table>${rows}</table></body></html>`,
      );
  });
}
