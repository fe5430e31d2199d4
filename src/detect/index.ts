/**
 * Detection: rules as data (`detections/*.json`), an engine that evaluates every audit event once, findings with
 * their evidence. Other modules read findings through the types of `types.ts` and the store exported here.
 */
import type { Kysely } from 'kysely';
import type { Cluster } from '../cluster/index.js';
import type { Config } from '../config/index.js';
import type { Clock, Logger } from '../platform/index.js';
import type { Database, Dialect } from '../storage/index.js';
import type { DetectAuditLog } from './audit-events.js';
import { createDetectionEngine, type DetectionEngine } from './engine.js';
import type { FindingReaction } from './findings.js';
import { type GeoEntry, isCidr } from './network.js';
import { checkOverrides, type RuleOverrides } from './overrides.js';
import { loadRules, type Rule, RuleFileError } from './rule.js';

export * from './types.js';
export { DETECT_AUDIT_EVENTS, type DetectAuditEvent, type DetectAuditLog } from './audit-events.js';
export { detectMigrations } from './migrations.js';
export type { DetectTables } from './tables.js';
export { DEFAULT_DETECTIONS_DIR, loadRules, parseRule, type Rule, RuleFileError } from './rule.js';
export { effectiveRule, type EffectiveRule, type RuleOverrides } from './overrides.js';
export { createEvaluator, type Evaluator, type Hit, type WindowState } from './evaluate.js';
export type { DetectionEngine, EngineStatus } from './engine.js';
export type { EvidenceRow, FindingQuery, FindingReaction, FindingStore } from './findings.js';

/** What the detection module needs from the composition root. */
export interface DetectionDeps {
  db: Kysely<Database>;
  dialect: Dialect;
  audit: DetectAuditLog;
  clock: Clock;
  log: Logger;
  cluster: Cluster;
  onFinding?: FindingReaction;
}

/** The validated rules, overrides and geo table of a configuration. */
export interface DetectionRules {
  rules: Rule[];
  overrides: RuleOverrides;
  geo: GeoEntry[];
}

/**
 * Loads and validates the rules (`detect.dir`), the overrides and the geo table. Any invalid rule file, override
 * or geo row throws naming the file (or key) and the field: the platform refuses to start.
 */
export function loadDetectionRules(config: Pick<Config, 'detect'>): DetectionRules {
  const rules = loadRules(config.detect.dir ?? undefined);
  const overrides = config.detect.overrides as RuleOverrides;
  checkOverrides(rules, overrides);
  for (const [i, row] of config.detect.geo.entries())
    if (!isCidr(row.cidr)) throw new RuleFileError('configuration detect.geo', `${i}.cidr`, 'is not a CIDR network');
  return { rules, overrides, geo: config.detect.geo };
}

/** Builds the engine over validated rules (not started). */
export function createDetection(
  config: Pick<Config, 'detect'>,
  loaded: DetectionRules,
  deps: DetectionDeps,
): DetectionEngine {
  return createDetectionEngine({
    ...deps,
    ...loaded,
    settings: {
      intervalMs: config.detect.interval * 1000,
      batch: config.detect.batch,
      gapSettleMs: config.detect.gapSettle * 1000,
      leaseTtlSeconds: Math.ceil(config.detect.leaseTtl),
    },
  });
}
export { FindingView, registerDetectionRoutes } from './routes.js';
