import { Type } from '@sinclair/typebox';
import { requestContext } from '../http/index.js';
import { attachRequestContext } from './request-context.js';
import type { HTTPMethods } from 'fastify';
import type Provider from 'oidc-provider';
import type { Authentication, RouteRegistrar } from '../http/index.js';
import type { CatalogEntry } from '../http/index.js';

/** Where the authorization server lives on a listener; the issuer URL ends with it. */
export const OAUTH_PREFIX = '/oauth';

type Endpoint = {
  method: HTTPMethods[];
  path: string;
  purpose: string;
  action: string;
  callers: CatalogEntry['callers'];
};

/** The endpoints of the authorization server on the public listener. Anything else under /oauth is 404. */
const PUBLIC_ENDPOINTS: Endpoint[] = [
  {
    method: ['GET'],
    path: '/.well-known/openid-configuration',
    purpose: 'OpenID Provider metadata.',
    action: 'oauth:discovery',
    callers: ['anonymous'],
  },
  {
    method: ['GET'],
    path: '/jwks',
    purpose: 'Public keys that sign tokens (current, next and recently retired).',
    action: 'oauth:jwks',
    callers: ['anonymous'],
  },
  {
    method: ['GET', 'POST'],
    path: '/auth',
    purpose: 'Authorization endpoint (code flow with PKCE S256).',
    action: 'oauth:authorize',
    callers: ['user', 'application'],
  },
  {
    method: ['GET'],
    path: '/auth/:uid',
    purpose: 'Resume an authorization request after sign-in or consent.',
    action: 'oauth:authorize',
    callers: ['user', 'application'],
  },
  {
    method: ['POST'],
    path: '/token',
    purpose: 'Token endpoint: authorization code, refresh token and client credentials grants.',
    action: 'oauth:token',
    callers: ['application', 'workload'],
  },
  {
    method: ['POST'],
    path: '/token/revocation',
    purpose: 'Revoke a refresh or access token (RFC 7009).',
    action: 'oauth:revoke',
    callers: ['application', 'workload'],
  },
  { method: ['GET', 'POST'], path: '/me', purpose: 'OpenID userinfo.', action: 'oauth:userinfo', callers: ['user'] },
  {
    method: ['GET', 'POST'],
    path: '/session/end',
    purpose: 'RP-initiated logout.',
    action: 'oauth:logout',
    callers: ['user'],
  },
  {
    method: ['POST'],
    path: '/session/end/confirm',
    purpose: 'Confirm logout.',
    action: 'oauth:logout',
    callers: ['user'],
  },
  { method: ['GET'], path: '/session/end/success', purpose: 'Logout done.', action: 'oauth:logout', callers: ['user'] },
];

/** On the vehicle gateway only the token endpoint, for devices authenticating with their certificate. */
const GATEWAY_ENDPOINTS: Endpoint[] = [
  {
    method: ['POST'],
    path: '/token',
    purpose: 'Device tokens: client credentials with tls_client_auth, bound to the certificate (RFC 8705).',
    action: 'oauth:device_token',
    callers: ['device'],
  },
];

/**
 * What oidc-provider answers: JSON (metadata, keys, tokens, errors) or an HTML page (logout, form posts),
 * both serialized by it. Redirects carry no body.
 */
const PROVIDER_BODY = {
  content: { 'application/json': { schema: Type.String() }, 'text/html': { schema: Type.String() } },
};
const REDIRECT = Type.Null({ description: 'a redirect to the client or to the sign-in page' });

/**
 * Registers the authorization server's endpoints as ordinary declared routes whose handlers give the
 * untouched request to oidc-provider. Its body parsers read the stream themselves, so in this scope Fastify
 * leaves bodies unread. On the public API the provider authenticates clients and sessions by the protocol;
 * on the gateway the device certificate is checked first, as on every gateway route. `publicBaseUrl` is the
 * origin the provider derives every URL from, whatever Host the request named.
 */
export function registerOAuthRoutes<Spec>(
  routes: RouteRegistrar<Spec>,
  provider: Provider,
  where: 'public' | 'gateway',
  publicBaseUrl: string,
): void {
  const callback = provider.callback();
  // oidc-provider builds its endpoint URLs (discovery, the audience it accepts in a client assertion) from the
  // request's Host. It only ever sees the deployment's: a forged Host can neither poison the discovery
  // document nor make an assertion minted for another origin acceptable.
  const pinnedHost = new URL(publicBaseUrl).host;
  const endpoints = where === 'public' ? PUBLIC_ENDPOINTS : GATEWAY_ENDPOINTS;
  const authOf = (e: Endpoint): Authentication =>
    where === 'gateway'
      ? { kind: 'device' }
      : e.callers.includes('anonymous')
        ? { kind: 'anonymous' }
        : { kind: 'oauth-protocol' };
  routes.scope((scope) => {
    scope.parsers.removeAllContentTypeParsers();
    scope.parsers.addContentTypeParser('*', (_req, _payload, done) => done(null));
    for (const e of endpoints) {
      scope.route(
        e.method,
        `${OAUTH_PREFIX}${e.path}`,
        {
          auth: authOf(e),
          catalog: {
            owner: 'auth',
            purpose: e.purpose,
            callers: e.callers,
            action: e.action,
            classification: 'confidential',
            scopes: [],
            safetyImpact: 'low',
            status: 'stable',
          },
          schema: { response: { 200: PROVIDER_BODY, 302: REDIRECT, 303: REDIRECT } },
        },
        (req, reply) => {
          reply.hijack();
          // The platform's headers, which a hijacked reply does not get from Fastify.
          reply.raw.setHeader('strict-transport-security', 'max-age=31536000');
          reply.raw.setHeader('x-content-type-options', 'nosniff');
          reply.raw.setHeader('x-frame-options', 'DENY');
          reply.raw.setHeader('x-request-id', req.id);
          // Not for shared caches; oidc-provider sets its own where an endpoint needs another policy.
          reply.raw.setHeader('cache-control', 'no-store');
          // As a mounting middleware would: oidc-provider finds its mount path from originalUrl minus url.
          const raw = req.raw as typeof req.raw & { originalUrl?: string };
          raw.originalUrl = raw.url;
          raw.url = raw.url?.slice(OAUTH_PREFIX.length) || '/';
          raw.headers.host = pinnedHost;
          delete raw.headers['x-forwarded-host'];
          delete raw.headers['x-forwarded-proto'];
          attachRequestContext(req.raw, requestContext(req));
          void callback(req.raw, reply.raw);
        },
      );
    }
  });
}
