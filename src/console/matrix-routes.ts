import { Type } from '@sinclair/typebox';
import { operatorOf } from '../admin/index.js';
import { type CatalogEntry, requestContext, type RouteRegistrar } from '../http/index.js';
import { MatrixReportView, readMatrixReport } from './matrix-report.js';
import type { MatrixRuns } from './matrix-runs.js';

const closed = { additionalProperties: false } as const;
const S = Type.String();
const NS = Type.Union([Type.String(), Type.Null()]);

const entry = (purpose: string, action: string, safetyImpact: CatalogEntry['safetyImpact']): CatalogEntry => ({
  owner: 'console',
  purpose,
  callers: ['operator'],
  action,
  classification: 'restricted',
  scopes: [],
  safetyImpact,
  status: 'beta',
});

const RunView = Type.Object(
  {
    id: S,
    target: S,
    startedBy: S,
    startedAt: S,
    state: Type.Union([Type.Literal('running'), Type.Literal('completed'), Type.Literal('failed')]),
    finishedAt: NS,
    exitCode: Type.Union([Type.Number(), Type.Null()]),
    output: Type.Array(S),
    outputLines: Type.Number(),
  },
  closed,
);

/**
 * The console's authorization-matrix page on the admin plane: the last report (every operator reads it), and runs
 * against a configured target (`console:run_matrix`, a security admin's): the body names a target, never a URL.
 */
export function registerMatrixRoutes(routes: RouteRegistrar, deps: { runs: MatrixRuns; reportFile: string }): void {
  routes.get(
    '/admin/v1/authz-matrix/report',
    {
      auth: { kind: 'operator' },
      catalog: entry(
        'The last authorization matrix report: cells, unexpected and unreached ones, route coverage.',
        'console:read_matrix',
        'none',
      ),
      schema: { querystring: Type.Object({}, closed), response: { 200: MatrixReportView } },
    },
    async () => readMatrixReport(deps.reportFile),
  );
  routes.get(
    '/admin/v1/authz-matrix/runs/current',
    {
      auth: { kind: 'operator' },
      catalog: entry(
        "The configured matrix targets' names and this node's last run with its progress.",
        'console:read_matrix',
        'none',
      ),
      schema: {
        querystring: Type.Object({}, closed),
        response: {
          200: Type.Object({ targets: Type.Array(S), run: Type.Union([RunView, Type.Null()]) }, closed),
        },
      },
    },
    async () => ({ targets: deps.runs.targets(), run: deps.runs.current() }),
  );
  routes.post(
    '/admin/v1/authz-matrix/runs',
    {
      auth: { kind: 'operator' },
      catalog: entry(
        'Run the authorization matrix (read-only) against a configured target, one run at a time.',
        'console:run_matrix',
        'low',
      ),
      schema: {
        body: Type.Object({ target: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,39}$' }) }, closed),
        response: { 202: RunView },
      },
    },
    async (req, reply) => {
      const run = await deps.runs.start({
        target: req.body.target,
        operator: operatorOf(req).name,
        context: requestContext(req),
      });
      return reply.code(202).send(run);
    },
  );
}
