import { pino, type DestinationStream, type Logger } from 'pino';

/**
 * Paths that may hold secrets anywhere we log. Redaction is by key name, so a new field called `token`,
 * `password`, `privateKey`, `csr` or `authorization` is hidden even if nobody remembered to add it here.
 */
const SECRET_KEYS = [
  'authorization', 'Authorization', 'cookie', 'set-cookie', 'dpop', 'DPoP', 'password', 'passwd', 'secret', 'clientSecret', 'client_secret',
  'token', 'accessToken', 'access_token', 'refreshToken', 'refresh_token', 'idToken', 'id_token', 'privateKey', 'private_key',
  'key', 'keyPem', 'pkcs8', 'totp', 'totpSecret', 'code', 'code_verifier',
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

/** Creates the structured logger. `destination` lets tests capture output to check redaction. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'carapace' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}

export type { Logger };
