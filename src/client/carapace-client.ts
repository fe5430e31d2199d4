import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type https from 'node:https';
import { importJWK, type JWK, SignJWT } from 'jose';
import { DpopKey } from './dpop.js';
import { CarapaceClientError, type ClientResponse, type ClientTls, CookieJar, request } from './http.js';
import type { ApiResponse } from './typed-routes.js';
import type { TotpSource } from './authenticator.js';

/** Tokens of a signed-in session. */
export interface TokenSet {
  accessToken: string;
  tokenType: string;
  refreshToken: string | null;
  idToken: string | null;
  expiresAt: number;
  scope: string;
}

/**
 * How to sign in as a person: their credentials, and a TOTP code when enrolled. A code source
 * (`totpAuthenticator`) is asked again once when the sign-in is refused, since a code works only once.
 */
export interface LoginOptions {
  email: string;
  password: string;
  totp?: string | (() => string) | TotpSource;
  scopes: string[];
}

/** Where the client talks to. */
export interface ClientOptions extends ClientTls {
  /** The public listener, e.g. https://localhost:8443. */
  baseUrl: string;
  clientId: string;
  redirectUri: string;
}

function totpCode(source: string | (() => string) | TotpSource): Promise<string> | string {
  if (typeof source === 'string') return source;
  return typeof source === 'function' ? source() : source.code();
}

function b64url(buf: Buffer): string {
  return buf.toString('base64url');
}

function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

function location(res: ClientResponse, base: string): string | null {
  const loc = res.headers.location;
  return typeof loc === 'string' ? new URL(loc, base).href : null;
}

/**
 * The Carapace client for apps, tests, the simulator and integrators' own tests. It signs a person in by
 * driving the real authorization-code flow with PKCE (S256) and DPoP through the server-rendered pages,
 * exactly as a browser would, refreshes and revokes tokens, and calls the API with DPoP proofs.
 */
export class CarapaceClient {
  readonly issuer: string;
  tokens: TokenSet | null = null;
  /** The authorization server's cookies of the last sign-in (its session), as a browser would keep them. */
  private session = new CookieJar();

  private constructor(
    private readonly options: ClientOptions,
    readonly dpop: DpopKey,
  ) {
    this.issuer = `${options.baseUrl.replace(/\/$/, '')}/oauth`;
  }

  /** Creates a client with a fresh DPoP key. */
  static async create(options: ClientOptions): Promise<CarapaceClient> {
    return new CarapaceClient(options, await DpopKey.generate());
  }

  /** Signs in: authorization request, sign-in page (password, TOTP), consent, code exchange. */
  async login(login: LoginOptions): Promise<TokenSet> {
    try {
      return await this.loginAttempt(login);
    } catch (err) {
      // The refusal does not say which factor failed (it must not); only a code source can offer a new one.
      if (!(err instanceof CarapaceClientError) || err.status !== 401 || typeof login.totp !== 'object') throw err;
      // Another process may have used this period's code (same persona, same 30 s): the source gives the next one.
      return this.loginAttempt(login);
    }
  }

  private async loginAttempt(login: LoginOptions): Promise<TokenSet> {
    const jar = new CookieJar();
    this.session = jar;
    const tls = { ca: this.options.ca };
    const verifier = b64url(randomBytes(32));
    const state = b64url(randomBytes(16));
    const authorize = new URL(`${this.issuer}/auth`);
    authorize.search = form({
      client_id: this.options.clientId,
      response_type: 'code',
      redirect_uri: this.options.redirectUri,
      scope: login.scopes.join(' '),
      code_challenge: b64url(createHash('sha256').update(verifier).digest()),
      code_challenge_method: 'S256',
      state,
      nonce: b64url(randomBytes(16)),
      resource: 'urn:carapace:api',
      prompt: 'consent',
    }).toString();
    let next: string | null = authorize.href;
    for (let hop = 0; hop < 12 && next; hop++) {
      if (next.startsWith(this.options.redirectUri)) {
        const cb = new URL(next);
        if (cb.searchParams.get('error'))
          throw new CarapaceClientError(
            `authorization failed: ${cb.searchParams.get('error')} ${cb.searchParams.get('error_description') ?? ''}`,
            400,
            Object.fromEntries(cb.searchParams),
          );
        if (cb.searchParams.get('state') !== state)
          throw new CarapaceClientError('state mismatch in the authorization response', 400, null);
        return this.exchange(String(cb.searchParams.get('code')), verifier);
      }
      const res = await request(next, { ...tls, jar });
      if (res.status >= 300 && res.status < 400) {
        next = location(res, next);
        continue;
      }
      const uid = /\/interaction\/([A-Za-z0-9_-]+)/.exec(next)?.[1];
      if (res.status !== 200 || !uid)
        throw new CarapaceClientError(
          `unexpected ${res.status} at ${new URL(next).pathname}: ${res.text.replace(/<[^>]+>/g, ' ').slice(0, 300)}`,
          res.status,
          res.text.slice(0, 500),
        );
      const base = `${this.options.baseUrl.replace(/\/$/, '')}/interaction/${uid}`;
      const step = res.text.includes(`action="/interaction/${uid}/login"`)
        ? await request(`${base}/login`, {
            ...tls,
            jar,
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: form({
              email: login.email,
              password: login.password,
              ...(login.totp ? { totp: await totpCode(login.totp) } : {}),
            }),
          })
        : await request(`${base}/confirm`, {
            ...tls,
            jar,
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: '',
          });
      if (step.status === 401)
        throw new CarapaceClientError(
          'sign-in refused: the email, password or one-time code is not right, or sign-in is paused',
          401,
          null,
        );
      next = location(step, base);
      if (!next)
        throw new CarapaceClientError(
          `unexpected ${step.status} from the sign-in pages`,
          step.status,
          step.text.slice(0, 500),
        );
    }
    throw new CarapaceClientError('the authorization flow did not reach the redirect URI', 0, null);
  }

  private async tokenRequest(fields: Record<string, string>): Promise<TokenSet> {
    const url = `${this.issuer}/token`;
    const res = await request(url, {
      ca: this.options.ca,
      method: 'POST',
      body: form(fields),
      headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await this.dpop.proof('POST', url) },
    });
    if (res.status !== 200)
      throw new CarapaceClientError(
        `token request failed: ${(res.json as { error?: string } | null)?.error ?? res.status}`,
        res.status,
        res.json,
      );
    const t = res.json as {
      access_token: string;
      token_type: string;
      refresh_token?: string;
      id_token?: string;
      expires_in: number;
      scope: string;
    };
    this.tokens = {
      accessToken: t.access_token,
      tokenType: t.token_type,
      refreshToken: t.refresh_token ?? null,
      idToken: t.id_token ?? null,
      expiresAt: Date.now() + t.expires_in * 1000,
      scope: t.scope,
    };
    return this.tokens;
  }

  private exchange(code: string, verifier: string): Promise<TokenSet> {
    return this.tokenRequest({
      grant_type: 'authorization_code',
      code,
      redirect_uri: this.options.redirectUri,
      code_verifier: verifier,
      client_id: this.options.clientId,
      resource: 'urn:carapace:api',
    });
  }

  /**
   * Exchanges a token from an external identity provider that this deployment trusts (`federation.issuers`) for
   * a Carapace access token bound to this client's DPoP key (RFC 8693 token exchange).
   */
  exchangeToken(args: {
    subjectToken: string;
    subjectTokenType?: 'id_token' | 'access_token' | 'jwt';
    scopes: string[];
  }): Promise<TokenSet> {
    return this.tokenRequest({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: args.subjectToken,
      subject_token_type: `urn:ietf:params:oauth:token-type:${args.subjectTokenType ?? 'id_token'}`,
      scope: args.scopes.join(' '),
      client_id: this.options.clientId,
      resource: 'urn:carapace:api',
    });
  }

  /** Uses the refresh token (rotated on every use) for a new token set. */
  refresh(refreshToken = this.tokens?.refreshToken ?? ''): Promise<TokenSet> {
    return this.tokenRequest({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: this.options.clientId,
      resource: 'urn:carapace:api',
    });
  }

  /** Revokes a token (RFC 7009); by default the refresh token, which ends the grant. */
  async revoke(
    token = this.tokens?.refreshToken ?? '',
    hint: 'refresh_token' | 'access_token' = 'refresh_token',
  ): Promise<void> {
    const res = await request(`${this.issuer}/token/revocation`, {
      ca: this.options.ca,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form({ token, token_type_hint: hint, client_id: this.options.clientId }),
    });
    if (res.status !== 200) throw new CarapaceClientError(`revocation failed: ${res.status}`, res.status, res.json);
  }

  /**
   * Signs out at the authorization server (OpenID RP-initiated logout), as a browser would: the logout page, then
   * its confirmation form. The session ends, and with it the grants it holds (but not an offline_access one).
   */
  async logout(): Promise<void> {
    const tls = { ca: this.options.ca, jar: this.session };
    const page = await request(`${this.issuer}/session/end?${form({ client_id: this.options.clientId })}`, tls);
    const action = /<form[^>]*action="([^"]+)"/.exec(page.text)?.[1];
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(page.text)?.[1];
    if (!action || !xsrf) throw new CarapaceClientError('the logout page has no form', page.status, null);
    const done = await request(new URL(action, this.issuer).href, {
      ...tls,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form({ xsrf, logout: 'yes' }),
    });
    if (done.status >= 400) throw new CarapaceClientError(`logout failed: ${done.status}`, done.status, done.json);
  }

  /** Calls the API with the access token and a fresh DPoP proof. */
  async api<M extends string, P extends string>(
    method: M,
    path: P,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<ApiResponse<M, P>> {
    if (!this.tokens) throw new Error('not signed in');
    const url = `${this.options.baseUrl.replace(/\/$/, '')}${path}`;
    // The body's type is the route's declared response schema, which the server serializes every answer through.
    return request(url, {
      ca: this.options.ca,
      agent: this.options.agent,
      method,
      headers: {
        authorization: `DPoP ${this.tokens.accessToken}`,
        dpop: await this.dpop.proof(method, url, this.tokens.accessToken),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...extraHeaders,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    }) as Promise<ApiResponse<M, P>>;
  }
}

/** A device token: client credentials with the operational certificate (tls_client_auth), bound to it. */
export async function deviceToken(args: {
  gatewayUrl: string;
  ca: string | string[];
  cert: string;
  key: string;
  deviceId: string;
  resource: 'urn:carapace:telemetry' | 'urn:carapace:commands';
}): Promise<{ accessToken: string; expiresIn: number }> {
  const scope = args.resource === 'urn:carapace:telemetry' ? 'telemetry:write' : 'commands:receive';
  const res = await request(`${args.gatewayUrl.replace(/\/$/, '')}/oauth/token`, {
    ca: args.ca,
    cert: args.cert,
    key: args.key,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form({
      grant_type: 'client_credentials',
      client_id: `device:${args.deviceId}`,
      resource: args.resource,
      scope,
    }),
  });
  if (res.status !== 200)
    throw new CarapaceClientError(
      `device token request failed: ${(res.json as { error?: string } | null)?.error ?? res.status}`,
      res.status,
      res.json,
    );
  const t = res.json as { access_token: string; expires_in: number };
  return { accessToken: t.access_token, expiresIn: t.expires_in };
}

/**
 * A partner or workload token: client credentials with private_key_jwt, for one audience, bound to a DPoP
 * key (pass one, or a fresh one is made and returned): every API call then needs a proof from that key.
 */
export async function clientCredentialsToken(args: {
  baseUrl: string;
  ca: string | string[];
  clientId: string;
  privateJwk: JWK;
  scope: string;
  resource?: string;
  dpop?: DpopKey;
}): Promise<{ accessToken: string; expiresIn: number; dpop: DpopKey }> {
  const issuer = `${args.baseUrl.replace(/\/$/, '')}/oauth`;
  const dpop = args.dpop ?? (await DpopKey.generate());
  const key = await importJWK(args.privateJwk, 'ES256');
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: args.privateJwk.kid })
    .setIssuer(args.clientId)
    .setSubject(args.clientId)
    .setAudience(issuer)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('60s')
    .sign(key);
  const res = await request(`${issuer}/token`, {
    ca: args.ca,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await dpop.proof('POST', `${issuer}/token`) },
    body: form({
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
      scope: args.scope,
      resource: args.resource ?? 'urn:carapace:api',
    }),
  });
  if (res.status !== 200)
    throw new CarapaceClientError(
      `client credentials request failed: ${(res.json as { error?: string } | null)?.error ?? res.status}`,
      res.status,
      res.json,
    );
  const t = res.json as { access_token: string; expires_in: number };
  return { accessToken: t.access_token, expiresIn: t.expires_in, dpop };
}

/** An API caller holding a DPoP-bound token it did not get by signing a person in (a partner service). */
export class ServiceSession {
  constructor(
    private readonly options: { baseUrl: string; ca: string | string[]; agent?: https.Agent },
    private readonly token: { accessToken: string; dpop: DpopKey },
  ) {}

  /** The session's access token (DPoP-bound: useless without the session's key). */
  get accessToken(): string {
    return this.token.accessToken;
  }

  /** Signs in a partner or workload with client credentials (private_key_jwt) and keeps the DPoP-bound token. */
  static async create(args: {
    baseUrl: string;
    ca: string | string[];
    clientId: string;
    privateJwk: JWK;
    scope: string;
    agent?: https.Agent;
  }): Promise<ServiceSession> {
    return new ServiceSession(args, await clientCredentialsToken(args));
  }

  /** Calls the API with the token and a fresh DPoP proof. */
  async api<M extends string, P extends string>(method: M, path: P, body?: unknown): Promise<ApiResponse<M, P>> {
    const url = `${this.options.baseUrl.replace(/\/$/, '')}${path}`;
    return request(url, {
      ca: this.options.ca,
      agent: this.options.agent,
      method,
      headers: {
        authorization: `DPoP ${this.token.accessToken}`,
        dpop: await this.token.dpop.proof(method, url, this.token.accessToken),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    }) as Promise<ApiResponse<M, P>>;
  }
}
