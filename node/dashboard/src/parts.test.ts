// A panel's parts are read and refused one by one: a grant that leaves out one category (alerts, or a
// vital sign) shows everything else and says what is not covered, rather than "no access" and
// break-glass for the whole record; only a refusal of every part is "no access".
import t from 'tap';
import { ApiProblem } from './client.ts';
import { type Part, panelOutcome, partError, settle } from './parts.ts';

const ok = <T>(value: T): Part<T> => ({ ok: true, value });
const no = (status: number, code: string): Part<never> => ({
  ok: false,
  error: new ApiProblem(status, code, code),
});

t.test('a grant without alerts: NEWS2 and alerts refused, readings shown', async (t) => {
  const parts = [no(403, 'SCOPE_NOT_GRANTED'), no(403, 'SCOPE_NOT_GRANTED'), ok([]), ok([])];
  t.same(panelOutcome(parts), { kind: 'partial' });
  t.equal(partError((parts[0] as { error: unknown }).error), 'not covered by your access');
});

t.test('every part refused: no access, with the first refusal (NEWS2) as the reason', async (t) => {
  const o = panelOutcome([no(403, 'NO_GRANT'), no(403, 'NO_GRANT'), no(403, 'NO_GRANT')]);
  t.equal(o.kind, 'refused');
  t.equal(o.kind === 'refused' && o.problem.code, 'NO_GRANT');
});

t.test('the node down is not "no access"', async (t) => {
  const o = panelOutcome([no(0, 'NETWORK'), no(403, 'NO_GRANT')]);
  t.equal(o.kind, 'failed');
  t.equal(o.kind === 'failed' && (o.error as ApiProblem).code, 'NETWORK');
  t.equal(partError(new ApiProblem(403, 'GRANT_EXPIRED', 'x')), 'Your access to this patient has expired.');
  t.equal(partError(new ApiProblem(500, 'INTERNAL', 'Internal error')), 'Internal error (INTERNAL)');
});

t.test('settle', async (t) => {
  t.same(await settle(Promise.resolve(1)), { ok: true, value: 1 });
  const r = await settle(Promise.reject(new Error('x')));
  t.equal(r.ok, false);
});

t.test('reads the node cannot audit yet: not "no access", no break-glass, and said in words', async (t) => {
  const backlog = no(503, 'AUDIT_BACKLOG');
  const o = panelOutcome([backlog, backlog, backlog]);
  t.equal(o.kind, 'failed', 'break-glass would not help: the node is refusing to serve unaudited data');
  t.match(partError((backlog as { error: unknown }).error), /audit trail/);
});
