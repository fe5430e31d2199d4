import type { CatalogedRoute } from '../http/index.js';
import { type ErrorCode, ERROR_STATUS, problemType } from '../platform/index.js';

type Json = Record<string, unknown>;

/** A route's schema as plain JSON Schema (TypeBox's symbols dropped): OpenAPI 3.1 takes JSON Schema 2020-12. */
export function plain(schema: unknown): Json {
  return JSON.parse(JSON.stringify(schema ?? {})) as Json;
}

/** `/v1/vehicles/:vehicleId` as an OpenAPI path template. */
export function openApiPath(url: string): string {
  return url.replace(/:(\w+)/g, '{$1}');
}

/** A stable operation id from the method and path. */
export function operationId(method: string, url: string): string {
  const words = url
    .split('/')
    .filter(Boolean)
    .map((w) => w.replace(/^:/, 'by-').replace(/[^A-Za-z0-9]+/g, '-'));
  return [method.toLowerCase(), ...words].join('-').replace(/-+/g, '-').replace(/-$/, '');
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  410: 'Gone',
};

/** The problem responses every route of this kind can answer with, at least (the registry has them all). */
export function problemCodes(route: CatalogedRoute): ErrorCode[] {
  const s = route.schema;
  // Any request can be malformed (an unparsable target or body): every route answers 400 to it.
  const codes: ErrorCode[] = ['ERR_BAD_REQUEST'];
  if (s.body || s.params || (s.querystring && Object.keys((s.querystring as Json).properties ?? {}).length > 0))
    codes.push('ERR_VALIDATION');
  const kind = route.facts.auth.kind;
  if (kind === 'token' || route.facts.auth.token) codes.push('ERR_TOKEN_INVALID');
  if (kind === 'device' || kind === 'factory-device' || kind === 'operator') codes.push('ERR_CLIENT_CERT_REQUIRED');
  if (kind === 'device' || kind === 'factory-device') codes.push('ERR_CLIENT_CERT_WRONG_PROFILE');
  if (kind === 'token' && route.facts.visibleWith) codes.push('ERR_FORBIDDEN');
  if (kind === 'token') codes.push('ERR_NOT_FOUND');
  if (route.entry.deprecation) codes.push('ERR_API_VERSION_RETIRED');
  return codes;
}

/** The problem responses of an operation, by status, each with an example per problem type. */
function problemResponses(route: CatalogedRoute, declared: Set<string>): Json {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of problemCodes(route)) {
    const status = ERROR_STATUS[code];
    if (declared.has(String(status))) continue;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Json = {};
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    const examples = Object.fromEntries(
      codes.map((code) => [
        code,
        {
          summary: code,
          value: {
            type: problemType(code),
            title: TITLES[status] ?? 'Error',
            status,
            detail: 'a sentence for people; match on `code` or `type`',
            code,
            instance: 'urn:carapace:request:00000000-0000-4000-8000-000000000000',
          },
        },
      ]),
    );
    out[String(status)] = {
      description: codes.join(' or '),
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' }, examples } },
    };
  }
  return out;
}

const DEPRECATION_HEADERS = {
  Deprecation: {
    description: 'RFC 9745: when this version was deprecated (`@<unix-seconds>`).',
    schema: { type: 'string' },
  },
  Sunset: { description: 'RFC 8594: when this version stops answering (HTTP date).', schema: { type: 'string' } },
  Link: { description: 'The migration note (`rel="deprecation"`) and the successor.', schema: { type: 'string' } },
};

/** The media types of a request body or response as OpenAPI content. */
function content(schema: Json): Json | null {
  if (schema.content && typeof schema.content === 'object') return plain(schema.content);
  if (schema.type === 'null') return null;
  return { 'application/json': { schema: plain(schema) } };
}

/** One response of an operation. */
function response(code: string, schema: Json, deprecated: boolean): Json {
  const body = content(schema);
  return {
    description: code === '101' ? 'Switching protocols (WebSocket)' : `${code} response`,
    ...(deprecated && code.startsWith('2') ? { headers: DEPRECATION_HEADERS } : {}),
    ...(body ? { content: body } : {}),
  };
}

/** Path and query parameters from the route's `params` and `querystring` schemas. */
function parameters(route: CatalogedRoute): Json[] {
  const out: Json[] = [];
  for (const [where, key] of [
    ['path', 'params'],
    ['query', 'querystring'],
  ] as const) {
    const s = plain(route.schema[key]);
    const required = new Set((s.required as string[] | undefined) ?? []);
    for (const [name, sub] of Object.entries((s.properties ?? {}) as Record<string, Json>))
      out.push({ name, in: where, required: where === 'path' || required.has(name), schema: sub });
  }
  // A route that leaves its path parameters to another library (the authorization server's) still has them.
  for (const [, name] of route.url.matchAll(/:(\w+)/g))
    if (!out.some((p) => p.in === 'path' && p.name === name))
      out.push({ name, in: 'path', required: true, schema: { type: 'string' } });
  if (route.facts.auth.kind === 'token')
    out.push({
      name: 'DPoP',
      in: 'header',
      required: true,
      description: 'RFC 9449 proof of possession of the key the access token is bound to.',
      schema: { type: 'string' },
    });
  return out;
}

/** The security requirement of a route, by its authentication. */
export function securityOf(route: CatalogedRoute): Array<Record<string, string[]>> {
  const { auth } = route.facts;
  const scopes = [...route.entry.scopes];
  switch (auth.kind) {
    case 'token':
      return [{ dpopOAuth: scopes }];
    case 'device':
      return [auth.token ? { deviceCertificate: [], deviceToken: [...auth.token.scopes] } : { deviceCertificate: [] }];
    case 'factory-device':
      return [{ factoryCertificate: [] }];
    case 'operator':
      return [{ operatorCertificate: [] }];
    default:
      return [];
  }
}

/** The OpenAPI operation of one route: its schemas, security, problem types and catalog entry (`x-carapace-*`). */
export function operationOf(route: CatalogedRoute): Json {
  const responses = (route.schema.response ?? {}) as Record<string, Json>;
  const declared = new Set(Object.keys(responses));
  const deprecated = route.entry.deprecation !== undefined;
  const body = route.schema.body ? content(route.schema.body as Json) : null;
  const params = parameters(route);
  const { deprecation, inventory, ...catalog } = route.entry;
  return {
    operationId: operationId(route.method, route.url),
    summary: route.entry.purpose,
    tags: [route.entry.owner],
    ...(deprecated ? { deprecated: true } : {}),
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(body ? { requestBody: { required: true, content: body } } : {}),
    security: securityOf(route),
    responses: {
      ...Object.fromEntries(Object.entries(responses).map(([code, s]) => [code, response(code, s, deprecated)])),
      ...problemResponses(route, declared),
    },
    'x-carapace-catalog': { ...catalog, authentication: route.facts.auth.kind },
    ...(deprecation ? { 'x-carapace-deprecation': deprecation } : {}),
    ...(inventory ? { 'x-carapace-inventory': inventory } : {}),
    ...(route.facts.websocket ? { 'x-carapace-websocket': true } : {}),
  };
}
