import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, loggableUrl } from './log.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, log: createLogger('debug', stream) };
}

describe('log redaction', () => {
  it('hides tokens, keys, passwords and credentials wherever they appear by name', () => {
    const { lines, log } = capture();
    const secrets = {
      password: 'hunter2-password',
      token: 'eyJsecret.token.value',
      privateKey: '-----BEGIN PRIVATE KEY-----abc',
      key: 'raw-key-material',
      access_token: 'at-secret',
      refresh_token: 'rt-secret',
      client_secret: 'cs-secret',
      totpSecret: 'JBSWY3DPEHPK3PXP',
    };
    log.info(secrets, 'top level');
    log.info({ body: secrets }, 'one level down');
    log.info(
      {
        req: {
          headers: { authorization: 'DPoP eyJtoken', cookie: 'session=abc', dpop: 'eyJproof', 'set-cookie': 'sid=1' },
        },
      },
      'headers',
    );
    const out = lines.join('');
    for (const value of [...Object.values(secrets), 'DPoP eyJtoken', 'session=abc', 'eyJproof', 'sid=1']) {
      expect(out).not.toContain(value);
    }
    expect(out.match(/\[redacted\]/g)?.length).toBeGreaterThanOrEqual(16);
  });

  it('keeps the identifiers investigations need', () => {
    const { lines, log } = capture();
    log.info({ serial: 'ABC123', thumbprint: 'x5t', jti: 'jti-1', deviceId: 'dev' }, 'facts');
    expect(lines.join('')).toContain('"serial":"ABC123"');
    expect(lines.join('')).toContain('"jti":"jti-1"');
  });

  it('logs request URLs without the values of token, code and hint parameters', () => {
    expect(loggableUrl('/oauth/session/end?id_token_hint=eyJabc.def.ghi&post_logout_redirect_uri=x')).toBe(
      '/oauth/session/end?id_token_hint=[redacted]&post_logout_redirect_uri=x',
    );
    expect(loggableUrl('/callback?code=abc&state=s1&iss=https%3A%2F%2Fx')).toBe(
      '/callback?code=[redacted]&state=[redacted]&iss=https://x',
    );
    const { lines, log } = capture();
    log.info(
      {
        req: {
          method: 'GET',
          url: '/oauth/auth?client_id=c&code_verifier=secret-verifier',
          socket: { remoteAddress: '127.0.0.1' },
        },
      },
      'incoming request',
    );
    expect(lines.join('')).not.toContain('secret-verifier');
    expect(lines.join('')).toContain('client_id=c');
  });
});
