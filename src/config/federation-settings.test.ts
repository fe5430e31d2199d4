import { describe, expect, it } from 'vitest';
import { isCarapaceError } from '../platform/index.js';
import { loadConfig } from './index.js';

const issuer = {
  id: 'corp',
  issuer: 'https://idp.example.com',
  audience: 'carapace',
  algorithms: ['RS256'],
  clients: ['carapace-owner-app'],
};

/** The message of the configuration error `issuers` causes, or null when it loads. */
function refusal(issuers: unknown): string | null {
  try {
    loadConfig({ overrides: { federation: { issuers } } });
    return null;
  } catch (err) {
    if (isCarapaceError(err) && err.code === 'ERR_CONFIG_INVALID') return err.message;
    throw err;
  }
}

describe('federation.issuers', () => {
  it('loads a complete issuer, and none by default', () => {
    expect(loadConfig().federation.issuers).toEqual([]);
    expect(refusal([{ ...issuer, mfa: { amr: ['mfa'] }, linkByVerifiedEmail: false }])).toBeNull();
  });

  it('refuses alg none, HMAC algorithms, unknown keys, a missing audience and a duplicate issuer', () => {
    expect(refusal([{ ...issuer, algorithms: ['none'] }])).toContain('algorithms may hold only');
    expect(refusal([{ ...issuer, algorithms: ['RS256', 'HS256'] }])).toContain('not HS256');
    expect(refusal([{ ...issuer, trustEverything: true }])).toContain('unknown keys: trustEverything');
    expect(refusal([{ ...issuer, audience: '' }])).toContain('audience');
    expect(refusal([{ ...issuer, clients: [] }])).toContain('clients');
    expect(refusal([issuer, { ...issuer, id: 'again' }])).toContain('lists an issuer twice');
    expect(refusal([{ ...issuer, mfa: { acr: 'urn:mfa' } }])).toContain('lists of strings');
  });
});
