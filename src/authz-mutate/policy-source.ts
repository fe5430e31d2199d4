import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';

/** Cedar's JSON form of one policy (the EST), as policyToJson returns it. */
export type PolicyJson = cedar.PolicyJson;

/** One policy as written: where it is, its exact text and its JSON form. */
export interface SourcePolicy {
  id: string;
  file: string;
  /** 1-based line of the policy's first character (its `@id` annotation) in its file. */
  line: number;
  /** The policy's exact text, a substring of its file. */
  text: string;
  json: PolicyJson;
}

/** A policy directory as written: the schema text, every file's text, and every policy in file order. */
export interface PolicySource {
  dir: string;
  schema: string;
  files: Map<string, string>;
  policies: SourcePolicy[];
}

const lineAt = (text: string, index: number) => text.slice(0, index).split('\n').length;

/**
 * Reads a policy directory with Cedar's own parser (policySetTextToParts, policyToJson), keeping each policy's
 * exact text so a mutant replaces that text and nothing else. The directory is assumed to load (loadPolicySet
 * checks it); a policy that does not convert throws.
 */
export function readPolicySource(dir: string): PolicySource {
  const files = new Map<string, string>();
  for (const f of readdirSync(dir).sort())
    if (f.endsWith('.cedar') || f === 'schema.cedarschema') files.set(f, readFileSync(join(dir, f), 'utf8'));
  const policies: SourcePolicy[] = [];
  for (const [file, text] of files) {
    if (!file.endsWith('.cedar')) continue;
    const parts = cedar.policySetTextToParts(text);
    if (parts.type === 'failure') throw new Error(`${file} does not parse: ${parts.errors[0]?.message ?? ''}`);
    let from = 0;
    for (const policy of parts.policies) {
      const at = text.indexOf(policy, from);
      if (at < 0) throw new Error(`${file}: a policy's text is not found in its file`);
      from = at + policy.length;
      const json = cedar.policyToJson(policy);
      if (json.type === 'failure') throw new Error(`${file}: a policy does not convert: ${json.errors[0]?.message}`);
      const id = json.json.annotations?.id;
      if (!id) throw new Error(`${file}: a policy has no @id`);
      policies.push({ id, file, line: lineAt(text, at), text: policy, json: json.json });
    }
  }
  return { dir, schema: files.get('schema.cedarschema') ?? '', files, policies };
}

/** Cedar text for a policy's JSON form. */
export function policyText(json: PolicyJson): string {
  const t = cedar.policyToText(json);
  if (t.type === 'failure') throw new Error(`a mutant does not print: ${t.errors[0]?.message ?? ''}`);
  return t.text;
}

/**
 * The 1-based file lines of the tokens `words` in a policy's conditions (after its scope), in text order, skipping
 * strings and comments: where a mutated `when`, `unless`, `==` or `!=` sits.
 */
export function conditionTokenLines(policy: SourcePolicy, words: readonly string[]): number[] {
  const t = policy.text;
  const lines: number[] = [];
  let i = 0;
  let depth = 0;
  let scopeDone = false;
  let seenScope = false;
  while (i < t.length) {
    const c = t[i] as string;
    if (c === '"') {
      i++;
      while (i < t.length && t[i] !== '"') i += t[i] === '\\' ? 2 : 1;
      i++;
      continue;
    }
    if (t.startsWith('//', i)) {
      while (i < t.length && t[i] !== '\n') i++;
      continue;
    }
    if (!seenScope && /^(permit|forbid)\b/.test(t.slice(i, i + 7))) seenScope = true;
    if (seenScope && !scopeDone) {
      if (c === '(') depth++;
      if (c === ')' && --depth === 0) scopeDone = true;
    } else if (scopeDone) {
      const word = words.find((w) => t.startsWith(w, i) && (!/\w/.test(w) || !/\w/.test(t[i + w.length] ?? '')));
      if (word && (!/\w/.test(word) || !/\w/.test(t[i - 1] ?? ''))) {
        lines.push(policy.line + lineAt(t, i) - 1);
        i += word.length;
        continue;
      }
    }
    i++;
  }
  return lines;
}
