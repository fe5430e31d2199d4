import type { CatalogedRoute } from '../http/index.js';
import { openApiPath, plain } from './openapi-operation.js';

type Json = Record<string, unknown>;
const JSON_MEDIA = /^application\/(?:[\w.+-]+\+)?json$/;

const key = (name: string) => (/^[A-Za-z_$][\w$]*$/.test(name) ? name : JSON.stringify(name));

/** A JSON Schema (as the routes declare it) as a TypeScript type: what `Static<>` of the TypeBox schema is. */
export function schemaType(schema: unknown, indent = ''): string {
  const s = (schema ?? {}) as Json;
  if ('const' in s) return JSON.stringify(s.const);
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  for (const k of ['anyOf', 'oneOf'] as const)
    if (Array.isArray(s[k])) return (s[k] as Json[]).map((p) => schemaType(p, indent)).join(' | ');
  switch (s.type) {
    case 'string':
      return 'string';
    case 'number':
    case 'integer':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'array': {
      const item = schemaType(s.items, indent);
      return `Array<${item}>`;
    }
    case 'object':
      return objectType(s, indent);
    default:
      return 'unknown';
  }
}

function objectType(s: Json, indent: string): string {
  const props = Object.entries((s.properties ?? {}) as Record<string, Json>);
  const patterns = Object.values((s.patternProperties ?? {}) as Record<string, Json>);
  if (props.length === 0)
    return patterns.length > 0 ? `Record<string, ${schemaType(patterns[0], indent)}>` : 'Record<string, never>';
  const required = new Set((s.required as string[] | undefined) ?? []);
  const inner = `${indent}  `;
  const lines = props.map(
    ([name, sub]) => `${inner}${key(name)}${required.has(name) ? '' : '?'}: ${schemaType(sub, inner)};`,
  );
  return `{\n${lines.join('\n')}\n${indent}}`;
}

/** The body type of a response or request schema: JSON media typed by its schema, anything else a string. */
function bodyType(schema: unknown, indent: string): string {
  const s = plain(schema);
  if (s.content && typeof s.content === 'object') {
    const types = Object.entries(s.content as Record<string, { schema?: unknown }>).map(([media, entry]) =>
      JSON_MEDIA.test(media) && (entry.schema as Json | undefined)?.type !== 'string'
        ? schemaType(entry.schema, indent)
        : 'string',
    );
    return [...new Set(types)].join(' | ');
  }
  return schemaType(s, indent);
}

/**
 * The TypeScript route map of the public API (`src/client/api-routes.ts`), generated from the same route schemas
 * as the OpenAPI document: per `METHOD /path/{param}`, its path parameters, query, body and responses by status.
 */
export function clientRouteTypes(routes: CatalogedRoute[]): string {
  const entries = routes
    .filter((r) => r.method !== 'HEAD' && !r.facts.websocket)
    .map((r) => {
      const ind = '    ';
      const responses = Object.entries((r.schema.response ?? {}) as Record<string, unknown>)
        .map(([code, s]) => `${ind}  ${code}: ${bodyType(s, `${ind}  `)};`)
        .join('\n');
      return [
        `  ${JSON.stringify(`${r.method} ${openApiPath(r.url)}`)}: {`,
        `${ind}params: ${r.schema.params ? schemaType(plain(r.schema.params), ind) : 'Record<string, never>'};`,
        `${ind}query: ${r.schema.querystring ? schemaType(plain(r.schema.querystring), ind) : 'Record<string, never>'};`,
        `${ind}body: ${r.schema.body ? bodyType(r.schema.body, ind) : 'undefined'};`,
        `${ind}responses: {\n${responses}\n${ind}};`,
        '  };',
      ].join('\n');
    });
  return [
    '// Generated from the public API route schemas by `npm run docs:openapi`. Do not edit by hand.',
    '',
    '/** Every route of the public API: path parameters, query, body and response bodies by status. */',
    'export interface PublicApiRoutes {',
    ...entries,
    '}',
    '',
  ].join('\n');
}
