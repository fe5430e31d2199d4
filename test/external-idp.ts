import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import Provider, { type Configuration } from 'oidc-provider';

/** A signing key of the external IdP: its private JWK (the IdP's configuration) and what can sign with it. */
export interface IdpKey {
  kid: string;
  jwk: JWK;
  sign(claims: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>;
}

/** Generates an RS256 key for the IdP. */
export async function idpKey(kid: string): Promise<IdpKey> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  return {
    kid,
    jwk,
    sign: (claims, header = {}) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid, ...header }).sign(privateKey),
  };
}

/** Who signs in next at the IdP, and what its sign-in proves. */
export interface IdpLogin {
  account: string;
  email?: string;
  acr?: string;
  amr?: string[];
}

/** The clients registered at the IdP: the one Carapace's app is at this IdP, and an unrelated one. */
export const IDP_CLIENTS = ['carapace-at-idp', 'other-app'] as const;
const REDIRECT = 'http://127.0.0.1/cb';

/**
 * A second authorization server (oidc-provider on loopback HTTP) standing in for Keycloak or Auth0: discovery,
 * JWKS, the authorization-code flow with PKCE, ID tokens signed with the keys it is started with. Its sign-in
 * page is replaced by `next`: whoever the test says signs in next, with the acr/amr the test gives.
 */
export async function startExternalIdp(port: number, keys: IdpKey[]) {
  const issuer = `http://127.0.0.1:${port}`;
  let next: IdpLogin = { account: 'nobody' };
  const emails = new Map<string, string>();
  const configuration: Configuration = {
    jwks: { keys: keys.map((k) => k.jwk) as never },
    clients: IDP_CLIENTS.map((client_id) => ({
      client_id,
      client_secret: `${client_id}-secret`,
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
    })),
    acrValues: ['urn:idp:pwd', 'urn:idp:mfa', 'urn:idp:weak'],
    // Email claims in the ID token itself, as Keycloak and Auth0 put them.
    conformIdTokenClaims: false,
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    findAccount: (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, ...(emails.has(sub) ? { email: emails.get(sub), email_verified: true } : {}) }),
    }),
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    ttl: { IdToken: 600, AccessToken: 600, AuthorizationCode: 60, Interaction: 600, Session: 600, Grant: 600 },
  };
  const provider = new Provider(issuer, configuration);
  const callback = provider.callback();
  const server: Server = createServer((req, res) => {
    // No kept-alive connections: a restart (a key rotation) must not leave clients a socket to the old server.
    res.setHeader('connection', 'close');
    if (!req.url?.startsWith('/interaction/')) return void callback(req, res);
    void (async () => {
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name === 'login') {
        const login = { accountId: next.account, acr: next.acr, amr: next.amr };
        return provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
      }
      const grant = new provider.Grant({
        accountId: details.session?.accountId,
        clientId: String(details.params.client_id),
      });
      grant.addOIDCScope('openid email');
      const consent = { grantId: await grant.save() };
      return provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
    })().catch((err: unknown) => res.writeHead(500).end(String(err)));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

  /** Signs `login` in at the IdP through the real code flow, as `clientId`, and returns the ID token it issues. */
  async function signIn(login: IdpLogin, clientId: (typeof IDP_CLIENTS)[number] = 'carapace-at-idp'): Promise<string> {
    next = login;
    if (login.email) emails.set(login.account, login.email);
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const query = new URLSearchParams({
      client_id: clientId,
      response_type: 'code',
      scope: 'openid email',
      redirect_uri: REDIRECT,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      nonce: randomBytes(8).toString('hex'),
      prompt: 'login consent',
      ...(login.acr ? { acr_values: login.acr } : {}),
    });
    const cookies = new Map<string, string>();
    let url = `${issuer}/auth?${query}`;
    for (let hop = 0; hop < 10; hop++) {
      const res = await fetch(url, {
        redirect: 'manual',
        headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
      });
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';');
        const [k, ...v] = (pair ?? '').split('=');
        if (k) cookies.set(k, v.join('='));
      }
      const location = res.headers.get('location');
      if (!location) throw new Error(`the IdP answered ${res.status} without a redirect: ${await res.text()}`);
      const target = new URL(location, url);
      if (target.href.startsWith(REDIRECT)) {
        const code = target.searchParams.get('code');
        if (!code) throw new Error(`the IdP refused the sign-in: ${target.search}`);
        const token = await fetch(`${issuer}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'authorization_code',
            code,
            redirect_uri: REDIRECT,
            code_verifier: verifier,
            client_id: clientId,
            client_secret: `${clientId}-secret`,
          }),
        });
        const body = (await token.json()) as { id_token?: string; error?: string };
        if (!body.id_token) throw new Error(`no ID token from the IdP: ${body.error}`);
        return body.id_token;
      }
      url = target.href;
    }
    throw new Error('the IdP sign-in did not finish');
  }

  return {
    issuer,
    signIn,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A running external IdP. */
export type ExternalIdp = Awaited<ReturnType<typeof startExternalIdp>>;
