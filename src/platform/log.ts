import { pino, type DestinationStream, type Logger } from 'pino';

/**
 * Paths that may hold secrets anywhere we log. Redaction is by key name, so a new field called `token`,
 * `password`, `privateKey`, `csr` or `authorization` is hidden even if nobody remembered to add it here.
 */
const SECRET_KEYS = [
  'authorization',
  'Authorization',
  'cookie',
  'set-cookie',
  'dpop',
  'DPoP',
  'password',
  'passwd',
  'secret',
  'clientSecret',
  'client_secret',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'idToken',
  'id_token',
  'privateKey',
  'private_key',
  'key',
  'keyPem',
  'pkcs8',
  'totp',
  'totpSecret',
  'code',
  'code_verifier',
];

/** Redaction paths for pino: each secret key at the top level, one level down, and in request headers. */
export const REDACT_PATHS = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers.dpop',
  'req.headers["set-cookie"]',
  'res.headers["set-cookie"]',
];

/** Query parameters whose values are never logged (tokens and codes travel in some OAuth URLs). */
const SECRET_QUERY =
  /^(code|state|nonce|id_token_hint|access_token|refresh_token|token|client_assertion|code_verifier|password|login_hint)$/i;

/** A URL for the log: the path, and query parameter names with secret values replaced. */
export function loggableUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  const shown = [...params.keys()].map(
    (k) => `${k}=${SECRET_QUERY.test(k) ? '[redacted]' : (params.get(k) ?? '').slice(0, 100)}`,
  );
  return `${url.slice(0, q)}?${shown.join('&')}`;
}

/** Creates the structured logger. `destination` lets tests capture output to check redaction. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    serializers: {
      req: (req: { method?: string; url?: string; id?: string; socket?: { remoteAddress?: string } }) => ({
        id: req.id,
        method: req.method,
        url: loggableUrl(req.url ?? ''),
        remoteAddress: req.socket?.remoteAddress,
      }),
    },
    base: { service: 'carapace' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}

export type { Logger };
