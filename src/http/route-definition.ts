import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type {
  ContextConfigDefault,
  FastifyBaseLogger,
  FastifyReply,
  FastifyRequest,
  FastifySchema,
  HTTPMethods,
  onErrorHookHandler,
  RouteGenericInterface,
  RouteHandlerMethod,
} from 'fastify';
import type { WebsocketHandler } from '@fastify/websocket';
import type { App } from './listener-type.js';
import { type CallerType, type CatalogEntry, definedConfig } from './catalog.js';
import { deprecationHook, deprecationProblem, type ListenerVersions } from './versions.js';

/** What a token must carry for a route: its audience and the scopes it needs (all of them, or any with `anyScope`). */
export interface TokenRequirement {
  audience: string;
  scopes: readonly string[];
  /** Routes used by two kinds of caller (an owner or a dealer closing a case) need one of the scopes. */
  anyScope?: boolean;
}

/**
 * How the caller of a route proves who it is. Identities are never collapsed, so each kind admits its own
 * caller kinds in the catalog:
 * - `anonymous`: nobody is authenticated; the catalog's callers are exactly `['anonymous']`.
 * - `token`: a user or application access token for an audience and scopes; always object-authorized.
 * - `device`: the operational device certificate (mTLS), optionally with a device token bound to it.
 * - `factory-device`: the factory certificate of a provisioned unit, good for enrollment only.
 * - `operator`: an admin-plane operator certificate.
 * - `oauth-protocol`: the authorization server's own endpoints, where oidc-provider authenticates the client
 *   (client authentication, PKCE, its session cookie) as the OAuth protocol prescribes.
 */
export type Authentication =
  | { kind: 'anonymous' }
  | { kind: 'token'; token: TokenRequirement }
  | { kind: 'device'; token?: TokenRequirement }
  | { kind: 'factory-device' }
  | { kind: 'operator' }
  | { kind: 'oauth-protocol' };

/** The caller kinds each authentication can establish: the catalog's callers must be among them. */
const ADMITS: Record<Authentication['kind'], readonly CallerType[]> = {
  anonymous: ['anonymous'],
  token: ['user', 'application', 'workload'],
  device: ['device'],
  'factory-device': ['factory-device'],
  operator: ['operator'],
  'oauth-protocol': ['user', 'application', 'workload'],
};

/** A request hook built from a declaration: it answers (and returns the reply) to refuse, or returns nothing. */
export type RequestHook = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/**
 * The authentication and authorization steps one listener can attach to its routes. A route whose
 * authentication the listener cannot perform is refused at startup (a device route on the public API).
 */
export interface ListenerSecurity<Spec> {
  token?: (required: TokenRequirement) => RequestHook;
  device?: (kind: 'factory' | 'operational') => RequestHook;
  operator?: RequestHook;
  /**
   * Where the authorization server's own endpoints live on this listener (`/oauth`): the only paths that may
   * declare `oauth-protocol`, whose callers oidc-provider authenticates itself. Absent: no such route.
   */
  oauthProtocol?: { prefix: string };
  /**
   * Object-level authorization of token routes through the policy engine, with the actions it knows:
   * `hook` before validation, and `inner` (for an object inside the authorized one) after it.
   */
  authorize?: {
    actions: ReadonlySet<string>;
    hook: (spec: Spec, catalog: CatalogEntry, route: AuthorizedRoute) => RequestHook;
    inner?: (spec: Spec, catalog: CatalogEntry) => RequestHook | undefined;
    /**
     * Runs before every reply of a route the hook was told `awaitsBeforeReply`: what the step left in flight (a
     * read's decision record) must be durable before the caller hears anything. A failure answers 500 instead.
     */
    beforeReply?: (req: FastifyRequest) => Promise<void>;
    /** Records a refusal the handler decided after the object was allowed (a step-up, a limit, a conflict). */
    refused?: (catalog: CatalogEntry) => onErrorHookHandler;
  };
  /** Deprecated versions of routes: their headers, their 410 after the sunset, and the count of their calls. */
  versions?: ListenerVersions;
}

/** What the authorization step knows of the route it guards. */
export interface AuthorizedRoute {
  /** Only GET/HEAD: the route changes no state, so its handler may run while the decision record is written. */
  safe: boolean;
  /** The listener calls `beforeReply` before every reply of this route (false for a websocket upgrade). */
  awaitsBeforeReply: boolean;
}

/** A binary body (a DER file, say) declared under its media type. */
export const Binary = Type.Unsafe<Buffer>({ type: 'string', format: 'binary' });

/** Response schemas by status code. Every route declares at least one 2xx, closed (see `responseProblem`). */
export type ResponseSchemas = Record<string, unknown>;

/** The route handler, typed by the route's schemas through the TypeBox type provider. */
export type Handler<S extends FastifySchema> = RouteHandlerMethod<
  HttpsServer,
  IncomingMessage,
  ServerResponse,
  RouteGenericInterface,
  ContextConfigDefault,
  S,
  TypeBoxTypeProvider,
  FastifyBaseLogger
>;

/** Everything a route declares besides its method, path and handler. */
export interface RouteDeclaration<S extends FastifySchema, Spec> {
  catalog: CatalogEntry;
  auth: Authentication;
  /** How a token route loads and authorizes its object (required for `token` authentication). */
  authorize?: Spec;
  schema: S & { response: ResponseSchemas };
  bodyLimit?: number;
  /** Runs when the route fails, e.g. to audit a refused batch. */
  onError?: onErrorHookHandler;
}

/**
 * The narrow door through which modules add routes: no raw `.get`/`.route` on the listener, only
 * declarations that are checked at startup and get their security steps from the declaration itself.
 */
export interface RouteRegistrar<Spec = never> {
  get<S extends FastifySchema>(url: string, decl: RouteDeclaration<S, Spec>, handler: Handler<S>): void;
  post<S extends FastifySchema>(url: string, decl: RouteDeclaration<S, Spec>, handler: Handler<S>): void;
  put<S extends FastifySchema>(url: string, decl: RouteDeclaration<S, Spec>, handler: Handler<S>): void;
  delete<S extends FastifySchema>(url: string, decl: RouteDeclaration<S, Spec>, handler: Handler<S>): void;
  /** Several methods on one path, e.g. an OAuth endpoint that takes GET and POST. */
  route<S extends FastifySchema>(
    methods: HTTPMethods[],
    url: string,
    decl: RouteDeclaration<S, Spec>,
    handler: Handler<S>,
  ): void;
  /** A WebSocket route: it answers 101 and then speaks its own protocol. */
  websocket(url: string, decl: RouteDeclaration<FastifySchema, Spec>, handler: WebsocketHandler): void;
  /** Body parsers of this registrar's scope (closed content types are part of a route's contract). */
  parsers: Pick<App, 'addContentTypeParser' | 'removeContentTypeParser' | 'removeAllContentTypeParsers'>;
  /** A child scope with its own body parsers and plugins, e.g. the mount of the authorization server. */
  scope(build: (child: RouteRegistrar<Spec>, app: Pick<App, 'register'>) => void | Promise<void>): void;
}

/** A route declaration the platform refuses to start with. */
export class RouteDefinitionError extends Error {
  constructor(where: string, problem: string) {
    super(`route ${where} ${problem}`);
    this.name = 'RouteDefinitionError';
  }
}

const JSON_MEDIA = /^application\/(?:[\w.+-]+\+)?json$/;

/**
 * Why a response schema is not closed, or null when it is. Closed means: an object lists its fields and
 * refuses others (at the top level explicitly), nothing anywhere accepts any value, and a non-JSON body is
 * declared by its media type with a string (or binary string) schema.
 */
export function responseProblem(schema: unknown, path = 'response', top = true): string | null {
  if (!schema || typeof schema !== 'object') return `${path} is not a schema`;
  const s = schema as Record<string, unknown>;
  if (top && s.content && typeof s.content === 'object') {
    const media = Object.entries(s.content as Record<string, { schema?: unknown }>);
    if (media.length === 0) return `${path} declares no media type`;
    for (const [type, entry] of media) {
      const inner = entry?.schema as Record<string, unknown> | undefined;
      // A body the route writes as a string (a page, a PEM file, JSON another library serialized) carries
      // nothing the route did not write; an object body must be closed.
      if (inner?.type === 'string') continue;
      if (!JSON_MEDIA.test(type)) return `${path}[${type}] must be a string or binary body`;
      const p = responseProblem(inner, `${path}[${type}]`, true);
      if (p) return p;
    }
    return null;
  }
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    const parts = s[key];
    if (Array.isArray(parts)) {
      for (const [i, part] of parts.entries()) {
        const p = responseProblem(part, `${path}.${key}[${i}]`, top);
        if (p) return p;
      }
      return null;
    }
  }
  if ('const' in s || Array.isArray(s.enum)) return null;
  const type = s.type;
  if (type === 'object') {
    if (top && s.additionalProperties !== false) return `${path} is an open object (set additionalProperties: false)`;
    if (s.additionalProperties !== undefined && s.additionalProperties !== false)
      return `${path} lets unlisted fields through (additionalProperties)`;
    const props = Object.entries((s.properties ?? {}) as Record<string, unknown>);
    const patterns = Object.entries((s.patternProperties ?? {}) as Record<string, unknown>);
    if (props.length === 0 && patterns.length === 0 && !top) return `${path} is an object without fields`;
    for (const [name, sub] of [...props, ...patterns]) {
      const p = responseProblem(sub, `${path}.${name}`, false);
      if (p) return p;
    }
    return null;
  }
  if (type === 'array') return s.items ? responseProblem(s.items, `${path}[]`, false) : `${path} has no item schema`;
  // A 204 declares its empty body as null.
  if (top && type === 'null') return null;
  if (top) return `${path} must be a closed object or a declared media type`;
  if (typeof type === 'string' && ['string', 'number', 'integer', 'boolean', 'null'].includes(type)) return null;
  return `${path} accepts any value (Type.Any/Unknown)`;
}

/** Checks a declaration against the platform's rules; throws RouteDefinitionError, so startup fails. */
export function checkDeclaration<Spec>(
  where: string,
  decl: RouteDeclaration<FastifySchema, Spec>,
  security: ListenerSecurity<Spec>,
  websocket = false,
): void {
  const fail = (problem: string) => {
    throw new RouteDefinitionError(where, problem);
  };
  const { catalog, auth } = decl as Partial<RouteDeclaration<FastifySchema, Spec>>;
  if (!catalog) return fail('has no catalog entry; every route must declare one');
  if (!auth) return fail('declares no authentication');
  const callers = catalog.callers;
  if (callers.length === 0) fail('names no caller kinds');
  if (auth.kind === 'anonymous') {
    if (callers.some((c) => c !== 'anonymous'))
      fail(`has callers ${callers.join(',')} that are not anonymous but does not authenticate them`);
  } else if (callers.includes('anonymous')) fail(`authenticates (${auth.kind}) but lists anonymous callers`);
  const admitted = ADMITS[auth.kind];
  const stray = callers.filter((c) => !admitted.includes(c));
  if (stray.length > 0) fail(`has callers ${stray.join(',')} that ${auth.kind} authentication cannot establish`);

  if ((auth.kind === 'token' || (auth.kind === 'device' && auth.token)) && !security.token)
    fail('takes a token on a listener that does not verify tokens');
  if ((auth.kind === 'device' || auth.kind === 'factory-device') && !security.device)
    fail('takes a device certificate on a listener without device authentication');
  if (auth.kind === 'operator' && !security.operator)
    fail('takes an operator certificate on a listener without operator authentication');
  if (auth.kind === 'oauth-protocol') {
    // Any other route declaring it would answer unauthenticated: only the provider's mount may.
    const url = where.slice(where.indexOf(' ') + 1);
    const prefix = security.oauthProtocol?.prefix;
    if (!prefix) fail('declares oauth-protocol on a listener without the authorization server');
    else if (!url.startsWith(`${prefix}/`))
      fail(`declares oauth-protocol outside the authorization server's mount (${prefix})`);
  }
  if (auth.kind === 'token') {
    if (!decl.authorize) fail('takes a token but declares no authorize spec');
    if (!security.authorize) fail('takes a user or application token on a listener without object authorization');
    else if (!security.authorize.actions.has(catalog.action))
      fail(`has action ${catalog.action}, which the Cedar schema does not declare`);
    const query = (decl.schema as { querystring?: { additionalProperties?: unknown } }).querystring;
    if (!query || query.additionalProperties !== false) fail('must declare a closed querystring schema');
  } else if (decl.authorize) fail(`declares an authorize spec, which ${auth.kind} authentication never runs`);

  const deprecation = deprecationProblem(catalog.deprecation, catalog.status);
  if (deprecation) fail(deprecation);
  if (catalog.deprecation && !security.versions) fail('is deprecated on a listener that does not serve versions');

  const response = (decl.schema as { response?: ResponseSchemas } | undefined)?.response;
  if (!response) return fail('declares no response schema');
  if (websocket) {
    const upgrade = response['101'] as { type?: unknown } | undefined;
    if (upgrade?.type !== 'null' || Object.keys(response).some((c) => c.startsWith('2')))
      fail('is a WebSocket route: declare exactly its 101 upgrade (a null body) and no 2xx');
    return;
  }
  // Fastify serializes a status with no schema of its own through `default` or a range (`2xx`): either could
  // send what a closed 2xx leaves out, so only exact status codes are allowed, and every one must be closed.
  const ranged = Object.keys(response).filter((code) => !/^[1-5]\d\d$/.test(code));
  if (ranged.length > 0) fail(`declares response ${ranged.join(', ')}: declare exact status codes only`);
  const success = Object.entries(response).filter(([code]) => code.startsWith('2'));
  if (success.length === 0) fail('must declare its success (2xx) response schema');
  for (const [code, schema] of Object.entries(response)) {
    const problem = responseProblem(schema, `response ${code}`);
    if (problem) fail(`has a response schema that is not closed: ${problem}`);
  }
}

/** The security steps a declaration gets, in order: certificate, then token, then object authorization. */
function hooksOf<Spec>(
  where: string,
  decl: RouteDeclaration<FastifySchema, Spec>,
  security: ListenerSecurity<Spec>,
  route: AuthorizedRoute,
): { onRequest: RequestHook[]; preValidation: RequestHook[]; preHandler: RequestHook[] } {
  const onRequest: RequestHook[] = [];
  // First of all: a retired version answers 410 before anything else runs.
  const { deprecation } = decl.catalog;
  if (deprecation && security.versions) onRequest.push(deprecationHook(where, deprecation, security.versions));
  const preValidation: RequestHook[] = [];
  const preHandler: RequestHook[] = [];
  const { auth } = decl;
  const need = <T>(step: T | undefined): T => {
    if (step === undefined) throw new Error('unreachable: checked by checkDeclaration');
    return step;
  };
  if (auth.kind === 'device') onRequest.push(need(security.device)('operational'));
  if (auth.kind === 'factory-device') onRequest.push(need(security.device)('factory'));
  if (auth.kind === 'operator') onRequest.push(need(security.operator));
  const token = auth.kind === 'token' || auth.kind === 'device' ? auth.token : undefined;
  if (token) onRequest.push(need(security.token)(token));
  // Before the body is validated, so an unauthorized caller learns nothing from validation errors.
  if (auth.kind === 'token') {
    const authorize = need(security.authorize);
    preValidation.push(authorize.hook(need(decl.authorize), decl.catalog, route));
    const inner = authorize.inner?.(need(decl.authorize), decl.catalog);
    if (inner) preHandler.push(inner);
  }
  return { onRequest, preValidation, preHandler };
}

/** The step that reports each call of a deprecated version once it is answered (none for other routes). */
function deprecatedCalls(
  method: HTTPMethods | HTTPMethods[],
  url: string,
  catalog: CatalogEntry,
  versions: ListenerVersions | undefined,
): ((req: FastifyRequest, reply: FastifyReply) => Promise<void>) | undefined {
  const report = versions?.deprecatedCall;
  if (!catalog.deprecation || !report) return undefined;
  const name = Array.isArray(method) ? method.join(',') : method;
  return async (req, reply) => {
    report(req, { method: name, url, catalog, retired: reply.statusCode === 410 });
  };
}

/** Builds the registrar of one listener (or of a child scope of it). */
export function createRegistrar<Spec>(app: App, security: ListenerSecurity<Spec>): RouteRegistrar<Spec> {
  const add = (
    method: HTTPMethods | HTTPMethods[],
    url: string,
    decl: RouteDeclaration<FastifySchema, Spec>,
    handler: unknown,
    websocket = false,
  ) => {
    const where = `${Array.isArray(method) ? method.join(',') : method} ${url}`;
    checkDeclaration(where, decl, security, websocket);
    const methods = Array.isArray(method) ? method : [method];
    const route = {
      safe: methods.every((m) => m === 'GET' || m === 'HEAD'),
      awaitsBeforeReply: !websocket && security.authorize?.beforeReply !== undefined,
    };
    const hooks = hooksOf(where, decl, security, route);
    const beforeReply = route.awaitsBeforeReply ? security.authorize?.beforeReply : undefined;
    const onResponse = deprecatedCalls(method, url, decl.catalog, security.versions);
    const refused = decl.auth.kind === 'token' ? security.authorize?.refused?.(decl.catalog) : undefined;
    const onError = [...(decl.onError ? [decl.onError] : []), ...(refused ? [refused] : [])];
    const declared = new Set(Object.keys((decl.schema as { response?: ResponseSchemas }).response ?? {}));
    // A success status the route did not declare would be serialized without its closed schema: refuse it.
    const onSend = async (req: FastifyRequest, reply: FastifyReply, payload: unknown) => {
      if (beforeReply) await beforeReply(req);
      const status = reply.statusCode;
      if (status >= 200 && status < 300 && !declared.has(String(status)))
        throw new Error(`route ${where} answered ${status}, which it does not declare`);
      return payload;
    };
    app.route({
      onSend,
      method,
      url,
      schema: decl.schema,
      config: definedConfig(decl.catalog, {
        auth: decl.auth,
        ...((decl.authorize as { visibleWith?: string } | undefined)?.visibleWith
          ? { visibleWith: (decl.authorize as { visibleWith: string }).visibleWith }
          : {}),
        websocket,
      }),
      ...(onResponse ? { onResponse } : {}),
      ...(decl.bodyLimit !== undefined ? { bodyLimit: decl.bodyLimit } : {}),
      ...(onError.length > 0 ? { onError } : {}),
      ...(hooks.onRequest.length > 0 ? { onRequest: hooks.onRequest } : {}),
      ...(hooks.preValidation.length > 0 ? { preValidation: hooks.preValidation } : {}),
      ...(hooks.preHandler.length > 0 ? { preHandler: hooks.preHandler } : {}),
      ...(websocket ? { websocket: true } : {}),
      handler: handler as RouteHandlerMethod,
    } as unknown as Parameters<App['route']>[0]);
  };
  return {
    get: (url, decl, handler) => add('GET', url, decl, handler),
    post: (url, decl, handler) => add('POST', url, decl, handler),
    put: (url, decl, handler) => add('PUT', url, decl, handler),
    delete: (url, decl, handler) => add('DELETE', url, decl, handler),
    route: (methods, url, decl, handler) => add(methods, url, decl, handler),
    websocket: (url, decl, handler) => add('GET', url, decl, handler, true),
    parsers: {
      addContentTypeParser: app.addContentTypeParser.bind(app) as App['addContentTypeParser'],
      removeContentTypeParser: app.removeContentTypeParser.bind(app) as App['removeContentTypeParser'],
      removeAllContentTypeParsers: app.removeAllContentTypeParsers.bind(app) as App['removeAllContentTypeParsers'],
    },
    scope: (build) => {
      void app.register(async (plain) => {
        const child = plain as unknown as App;
        await build(createRegistrar(child, security), child);
      });
    },
  };
}
