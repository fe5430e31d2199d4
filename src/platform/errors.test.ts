import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderErrorReference } from './error-reference.js';
import { CarapaceError, problemType } from './errors.js';

describe('errors', () => {
  it('maps codes to stable problem types and statuses', () => {
    expect(problemType('ERR_CLIENT_CERT_REVOKED')).toBe('urn:carapace:problem:client-cert-revoked');
    expect(new CarapaceError('ERR_DEVICE_MISMATCH', 'x').status).toBe(403);
  });

  it('keeps docs/errors.md in step with the codes', () => {
    expect(readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')).toBe(renderErrorReference());
  });
});
