/**
 * Per-rule and per-tenant overrides from the configuration (`detect.overrides`): only `enabled`, `severity` and
 * the numeric or duration parameters of `evaluate` can change, so an override can tune a rule but never change
 * what it reads.
 */
import type { Evaluation, Rule } from './rule.js';
import { parseRuleDuration, RuleFileError } from './rule.js';
import { type Severity, SEVERITIES } from './types.js';

/** One override: enabled, severity, evaluate parameters, and (at the rule level) per-tenant overrides. */
export interface RuleOverride {
  enabled?: boolean;
  severity?: Severity;
  tenants?: Record<string, RuleOverride>;
  [parameter: string]: unknown;
}

/** `detect.overrides`: rule id → override. */
export type RuleOverrides = Record<string, RuleOverride>;

/** What a rule is for one event once the overrides are applied. */
export interface EffectiveRule {
  enabled: boolean;
  severity: Severity;
  evaluate: Evaluation;
}

const NUMERIC = ['threshold', 'history', 'factor', 'minimum', 'maxKmh'];
const DURATIONS = ['window', 'within', 'bucket'];

function checkOne(rule: Rule, o: unknown, at: string, tenantLevel: boolean): void {
  const fail = (field: string, problem: string) => {
    throw new RuleFileError('configuration detect.overrides', `${at}.${field}`, problem);
  };
  if (o === null || typeof o !== 'object' || Array.isArray(o)) fail('', 'must be an object');
  const ev = rule.evaluate as Record<string, unknown>;
  for (const [name, value] of Object.entries(o as Record<string, unknown>)) {
    if (name === 'enabled') {
      if (typeof value !== 'boolean') fail(name, 'must be true or false');
    } else if (name === 'severity') {
      if (!SEVERITIES.includes(value as Severity)) fail(name, `must be one of ${SEVERITIES.join(', ')}`);
    } else if (name === 'tenants' && !tenantLevel) {
      if (value === null || typeof value !== 'object') fail(name, 'must be an object of tenant id → override');
      for (const [t, to] of Object.entries(value as object)) checkOne(rule, to, `${at}.tenants.${t}`, true);
    } else if (NUMERIC.includes(name) && name in ev) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) fail(name, 'must be a number ≥ 0');
      if (name === 'threshold' && rule.evaluate.kind === 'ratio' && (value as number) > 1) fail(name, 'must be ≤ 1');
    } else if (DURATIONS.includes(name) && (name in ev || (name === 'window' && rule.evaluate.kind === 'travel'))) {
      if (typeof value !== 'string' || !parseRuleDuration(value)) fail(name, 'must be a duration such as "5m"');
    } else {
      fail(name, `is not an overridable parameter of a ${rule.evaluate.kind} rule`);
    }
  }
}

/** Validates the overrides against the loaded rules; an unknown rule or parameter throws naming it. */
export function checkOverrides(rules: readonly Rule[], overrides: RuleOverrides): void {
  for (const [id, o] of Object.entries(overrides)) {
    const rule = rules.find((r) => r.id === id);
    if (!rule) throw new RuleFileError('configuration detect.overrides', id, 'names no loaded rule');
    checkOne(rule, o, id, false);
  }
}

function apply(base: EffectiveRule, o: RuleOverride | undefined): EffectiveRule {
  if (!o) return base;
  const { enabled, severity, tenants: _tenants, ...params } = o;
  return {
    enabled: enabled ?? base.enabled,
    severity: severity ?? base.severity,
    evaluate: { ...base.evaluate, ...params } as Evaluation,
  };
}

/** The rule as it applies to an event of `tenantId`: the rule, then its override, then its tenant's override. */
export function effectiveRule(rule: Rule, overrides: RuleOverrides, tenantId: string | null): EffectiveRule {
  const o = overrides[rule.id];
  const base = apply({ enabled: rule.enabled, severity: rule.severity, evaluate: rule.evaluate }, o);
  return tenantId === null ? base : apply(base, o?.tenants?.[tenantId]);
}
