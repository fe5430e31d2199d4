import type { CatalogedRoute } from '../http/index.js';
import { ERROR_DESCRIPTIONS, ERROR_STATUS, type ErrorCode, problemType } from '../platform/index.js';
import { openApiPath, operationOf, securityOf } from './openapi-operation.js';

/** The three listeners, each with its own document: they have different callers, security and hosts. */
export const PLANES = ['public', 'gateway', 'admin'] as const;
/** One listener's API. */
export type Plane = (typeof PLANES)[number];

/** An OpenAPI 3.1 document as JSON. */
export type OpenApiDocument = Record<string, unknown>;

const TITLES: Record<Plane, string> = {
  public: 'Carapace public API',
  gateway: 'Carapace vehicle gateway',
  admin: 'Carapace admin plane',
};

const DESCRIPTIONS: Record<Plane, string> = {
  public:
    'Apps, fleets, dealers, partners and support. Access tokens are JWTs (RFC 9068) bound to a DPoP key (RFC 9449): ' +
    'send `Authorization: DPoP <token>` and a `DPoP` proof. Errors are problem+json (RFC 9457).',
  gateway:
    'Telematics units over mutual TLS (RFC 8705): the operational certificate on every connection, a factory ' +
    'certificate for enrollment only, device tokens bound to the certificate.',
  admin: 'Operators with an operator certificate (mutual TLS), on a listener bound to loopback by default.',
};

const SCHEMES: Record<string, Record<string, unknown>> = {
  dpopOAuth: {
    type: 'oauth2',
    description:
      'OAuth 2.1 with PKCE; access tokens are DPoP-bound (RFC 9449) and audience-restricted (RFC 8707) to ' +
      '`urn:carapace:api`. Sign-ins that need a recent second factor are challenged for step-up (`acr`).',
    flows: {
      authorizationCode: { authorizationUrl: '/oauth/auth', tokenUrl: '/oauth/token', scopes: {} },
      clientCredentials: { tokenUrl: '/oauth/token', scopes: {} },
    },
    'x-carapace-token-binding': 'DPoP (RFC 9449)',
  },
  deviceCertificate: { type: 'mutualTLS', description: 'The unit’s operational certificate (fleet CA).' },
  deviceToken: {
    type: 'oauth2',
    description: 'A device token from client credentials with tls_client_auth, bound to the certificate (RFC 8705).',
    flows: { clientCredentials: { tokenUrl: '/oauth/token', scopes: {} } },
    'x-carapace-token-binding': 'mTLS certificate (RFC 8705 cnf.x5t#S256)',
  },
  factoryCertificate: { type: 'mutualTLS', description: 'A provisioned unit’s factory certificate: enrollment only.' },
  operatorCertificate: { type: 'mutualTLS', description: 'An operator certificate issued by the root CA.' },
};

const PROBLEM = {
  type: 'object',
  description: 'RFC 9457 problem details; `code` and `type` are stable (docs/errors.md).',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string', format: 'uri' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string', enum: Object.keys(ERROR_STATUS) },
    instance: { type: 'string' },
  },
};

/** The security schemes a plane's routes use, with the scopes each OAuth scheme's routes need. */
function schemesOf(routes: CatalogedRoute[]): Record<string, unknown> {
  const used = new Map<string, Set<string>>();
  for (const r of routes)
    for (const req of securityOf(r))
      for (const [name, scopes] of Object.entries(req)) {
        const set = used.get(name) ?? new Set<string>();
        for (const s of scopes) set.add(s);
        used.set(name, set);
      }
  const out: Record<string, unknown> = {};
  for (const name of [...used.keys()].sort()) {
    const scheme = structuredClone(SCHEMES[name]!);
    const flows = scheme.flows as Record<string, { scopes: Record<string, string> }> | undefined;
    for (const flow of Object.values(flows ?? {}))
      flow.scopes = Object.fromEntries([...used.get(name)!].sort().map((s) => [s, `the ${s} scope`]));
    out[name] = scheme;
  }
  return out;
}

/** Every problem type of the registry, for clients that map `type` to handling. */
function problemTypes() {
  return (Object.keys(ERROR_STATUS) as ErrorCode[]).map((code) => ({
    code,
    type: problemType(code),
    status: ERROR_STATUS[code],
    description: ERROR_DESCRIPTIONS[code],
  }));
}

/**
 * The OpenAPI 3.1 document of one listener, generated from the routes it registered (their declarations:
 * schemas, authentication, catalog entry). No deployment-specific value goes in, so every deployment of one
 * version serves the same document and `docs/openapi*.json` can be compared with it.
 */
export function openApiDocument(plane: Plane, routes: CatalogedRoute[], version: string): OpenApiDocument {
  const listed = routes.filter((r) => r.method !== 'HEAD');
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of listed) {
    const path = openApiPath(r.url);
    paths[path] = { ...paths[path], [r.method.toLowerCase()]: operationOf(r) };
  }
  const owners = [...new Set(listed.map((r) => r.entry.owner))].sort();
  return {
    openapi: '3.1.0',
    info: {
      title: TITLES[plane],
      version,
      description: DESCRIPTIONS[plane],
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: '/', description: `the ${plane} listener of the deployment` }],
    tags: owners.map((name) => ({ name, description: `Routes owned by the ${name} module.` })),
    paths,
    components: { securitySchemes: schemesOf(listed), schemas: { Problem: PROBLEM } },
    'x-carapace-problem-types': problemTypes(),
  };
}
