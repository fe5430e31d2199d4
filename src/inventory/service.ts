import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { auditActivity } from '../audit/index.js';
import type { Config } from '../config/index.js';
import type { CatalogedRoute } from '../http/index.js';
import { partnerApplications } from '../identity/index.js';
import { activeCertificateIssues } from '../pki/index.js';
import type { Clock } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import { type GovernanceMetric, type GovernanceSources, governanceMetrics } from './governance.js';
import { buildInventory, type InventoryRow } from './inventory.js';
import { type OpenApiDocument, openApiDocument, type Plane } from './openapi.js';
import type { DeprecatedUse, VersionUsage } from './usage.js';

/** The package version: the `info.version` of the OpenAPI documents (the same from src/ and dist/). */
export const API_VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** A command type as the inventory and the governance numbers read it. */
export interface CommandFacts {
  name: string;
  risk: string;
  stepUp: boolean;
  disallowedRegions: readonly string[];
}

/** The inventory's answers: documents, the inventory, deprecated usage, governance. */
export interface InventoryService {
  document(plane: Plane): OpenApiDocument;
  inventory(): Promise<InventoryRow[]>;
  deprecated(): Promise<DeprecatedUse[]>;
  governance(): Promise<{ window: { from: string; to: string }; metrics: GovernanceMetric[] }>;
}

type MatrixSummary = NonNullable<GovernanceSources['matrix']>['summary'];

/** The last matrix report's summary and time, or null when there is none (or it does not parse). */
function readMatrix(file: string): GovernanceSources['matrix'] {
  try {
    const report = JSON.parse(readFileSync(file, 'utf8')) as { summary?: MatrixSummary };
    if (!report.summary || typeof report.summary.cells !== 'number') return null;
    return { summary: report.summary, at: statSync(file).mtime };
  } catch {
    return null;
  }
}

/** The inventory over the listeners' routes (read once they are all registered) and the modules' live data. */
export function createInventoryService(deps: {
  db: Kysely<Database>;
  clock: Clock;
  config: Config;
  routes: () => Record<Plane, CatalogedRoute[]>;
  policies: Record<string, string>;
  usage: Pick<VersionUsage, 'deprecatedUse' | 'flush'>;
  commands: readonly CommandFacts[];
  response: (
    days: number,
  ) => Promise<Pick<GovernanceSources, 'timeToRevoke'> & { scoping: GovernanceSources['scoping'] }>;
}): InventoryService {
  const documents = new Map<Plane, OpenApiDocument>();
  const window = () => {
    const to = deps.clock.now();
    const from = new Date(to.getTime() - deps.config.inventory.governanceWindow * 1000);
    return { from: from.toISOString(), to: to.toISOString() };
  };
  const inventory = async () => {
    const activity = await auditActivity(deps.db, window());
    return buildInventory({
      routes: deps.routes(),
      config: deps.config,
      policies: deps.policies,
      activity,
      commands: deps.commands,
      now: deps.clock.now(),
    });
  };
  return {
    document(plane) {
      // Routes are fixed once the listeners are ready: the document is built once per plane.
      const cached = documents.get(plane) ?? openApiDocument(plane, deps.routes()[plane], API_VERSION);
      documents.set(plane, cached);
      return cached;
    },
    inventory,
    async deprecated() {
      await deps.usage.flush();
      return deps.usage.deprecatedUse();
    },
    async governance() {
      await deps.usage.flush();
      const w = window();
      const matrixFile = deps.config.inventory.matrixReportFile ?? join(deps.config.dataDir, 'authz-report.json');
      const days = Math.max(1, Math.ceil(deps.config.inventory.governanceWindow / 86400));
      const response = await deps.response(days);
      const metrics = governanceMetrics({
        // Ages are measured at the window's end, so one answer is consistent with itself.
        now: new Date(w.to),
        window: w,
        inventory: await inventory(),
        activity: await auditActivity(deps.db, w),
        matrix: readMatrix(matrixFile),
        matrixFile,
        commands: deps.commands,
        deprecatedUse: await deps.usage.deprecatedUse(),
        certificates: await activeCertificateIssues(deps.db),
        timeToRevoke: response.timeToRevoke,
        scoping: response.scoping,
        partners: await partnerApplications(deps.db),
      });
      return { window: w, metrics };
    },
  };
}
