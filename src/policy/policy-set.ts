import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { preparseActionSlices } from './action-slices.js';
import { requiredPolicyProblems } from './required-policies.js';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';

/** The policies directory shipped with Carapace. */
export const DEFAULT_POLICY_DIR = new URL('../../policies/', import.meta.url).pathname;

/** A validated, preparsed policy set: what the decision point evaluates. */
export interface PolicySet {
  /** `sha256:<hex>` over every file name and content: recorded with every decision. */
  version: string;
  schema: string;
  /** Policy text by its `@id`. */
  policies: Record<string, string>;
  files: string[];
  /** Per action, the id of the preparsed slice of policies that can apply to it (action-slices.ts). */
  slices: Map<string, string>;
}

/** Raised when the policy files do not parse or do not validate against the schema; startup stops. */
export class PolicySetError extends Error {
  constructor(
    message: string,
    readonly problems: string[],
  ) {
    super(`${message}:\n  ${problems.join('\n  ')}`);
    this.name = 'PolicySetError';
  }
}

const describe = (e: cedar.DetailedError) => `${e.message}${e.help ? ` (${e.help})` : ''}`;

/** Splits one file into policies keyed by their `@id` annotation; every policy must carry a unique one. */
function policiesOf(file: string, text: string, into: Record<string, string>): void {
  const parts = cedar.policySetTextToParts(text);
  if (parts.type === 'failure') throw new PolicySetError(`${file} does not parse`, parts.errors.map(describe));
  if (parts.policy_templates.length > 0)
    throw new PolicySetError(`${file} has templates`, ['templates are not used; write static policies']);
  for (const policy of parts.policies) {
    const id = /@id\("([^"]+)"\)/.exec(policy)?.[1];
    if (!id) throw new PolicySetError(`${file} has a policy without @id`, [policy.slice(0, 120)]);
    if (into[id] !== undefined) throw new PolicySetError(`${file} repeats a policy id`, [id]);
    into[id] = policy;
  }
}

/**
 * Policy sets this process has validated and preparsed, by content hash. Validation is a pure function of the
 * files' names and texts, and cedar-wasm keeps preparsed sets by that same id, so a second deployment in one process
 * (the test suite, the mutation runner's one server per mutant) skips about a second of Wasm work per start.
 */
const validated = new Map<string, PolicySet>();

/**
 * Reads `schema.cedarschema` and every `*.cedar` file in a directory, validates the policies against the
 * schema in strict mode, and preparses both for evaluation. Any problem throws: an invalid policy set never
 * starts.
 */
export function loadPolicySet(dir: string = DEFAULT_POLICY_DIR): PolicySet {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cedar') || f === 'schema.cedarschema')
    .sort();
  if (!files.includes('schema.cedarschema'))
    throw new PolicySetError(`no schema in ${dir}`, ['schema.cedarschema is missing']);
  const hash = createHash('sha256');
  const texts = new Map<string, string>();
  for (const f of files) {
    const text = readFileSync(join(dir, f), 'utf8');
    texts.set(f, text);
    hash.update(`${f}\0${text}\0`);
  }
  const version = `sha256:${hash.digest('hex')}`;
  const known = validated.get(version);
  if (known)
    return { ...known, policies: { ...known.policies }, files: [...known.files], slices: new Map(known.slices) };
  const set = validate(dir, version, files, texts);
  validated.set(version, set);
  return set;
}

/** Parses, checks and preparses one policy directory's texts (see loadPolicySet). */
function validate(dir: string, version: string, files: string[], texts: Map<string, string>): PolicySet {
  const schema = texts.get('schema.cedarschema') as string;
  const parsedSchema = cedar.checkParseSchema(schema);
  if (parsedSchema.type === 'failure')
    throw new PolicySetError('the Cedar schema does not parse', parsedSchema.errors.map(describe));
  const policies: Record<string, string> = {};
  for (const [f, text] of texts) if (f.endsWith('.cedar')) policiesOf(f, text, policies);
  if (Object.keys(policies).length === 0)
    throw new PolicySetError(`no policies in ${dir}`, ['without a permit everything is denied']);
  const missing = requiredPolicyProblems(policies);
  if (missing.length > 0)
    throw new PolicySetError(`required policies are missing from ${dir} (src/policy/required-policies.ts)`, missing);
  const validation = cedar.validate({
    schema,
    policies: { staticPolicies: policies },
    validationSettings: { mode: 'strict' },
  });
  if (validation.type === 'failure')
    throw new PolicySetError('the policies could not be validated', validation.errors.map(describe));
  const problems = [...validation.validationErrors.map((e) => `${e.policyId}: ${describe(e.error)}`)];
  if (problems.length > 0) throw new PolicySetError('the policies do not validate against the schema', problems);
  const preparsed = cedar.preparsePolicySet(version, { staticPolicies: policies });
  if (preparsed.type === 'failure')
    throw new PolicySetError('the policies could not be preparsed', preparsed.errors.map(describe));
  const preparsedSchema = cedar.preparseSchema(version, schema);
  if (preparsedSchema.type === 'failure')
    throw new PolicySetError('the schema could not be preparsed', preparsedSchema.errors.map(describe));
  return { version, schema, policies, files, slices: preparseActionSlices(version, policies, schema) };
}

/** The action names the schema declares, e.g. `vehicle:read`. */
export function schemaActions(set: PolicySet): Set<string> {
  const json = cedar.schemaToJson(set.schema);
  if (json.type === 'failure') throw new PolicySetError('the Cedar schema does not convert', json.errors.map(describe));
  return new Set(Object.values(json.json).flatMap((ns) => Object.keys(ns.actions)));
}

/** The actions the schema declares for a principal type, with the action groups each is in (`memberOf`). */
export function actionsFor(set: PolicySet, principalType: string): Map<string, string[]> {
  const json = cedar.schemaToJson(set.schema);
  if (json.type === 'failure') throw new PolicySetError('the Cedar schema does not convert', json.errors.map(describe));
  const out = new Map<string, string[]>();
  for (const ns of Object.values(json.json)) {
    for (const [name, a] of Object.entries(ns.actions)) {
      const applies = a.appliesTo as { principalTypes?: string[] } | undefined | null;
      if (!applies?.principalTypes?.includes(principalType)) continue;
      out.set(
        name,
        (a.memberOf ?? []).map((m) => m.id),
      );
    }
  }
  return out;
}
