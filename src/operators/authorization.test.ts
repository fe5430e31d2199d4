import { describe, expect, it } from 'vitest';
import { adminExpectations } from './authorization.js';

describe('admin expectations from the shipped policies', () => {
  const e = adminExpectations();

  it('a viewer only reads; a responder releases only with elevation; revocation is never a responder action', () => {
    expect(e.viewer.withElevation).toEqual([]);
    expect(e.viewer.denied).toContain('pki:revoke');
    expect(e.viewer.allowed).toContain('audit:read');
    expect(e.responder.withElevation).toContain('telemetry:release_quarantine');
    expect(e.responder.allowed).toContain('pki:transition_device');
    expect(e.responder.denied).toContain('pki:revoke');
    expect(e.releaseNeedsElevation).toEqual(['responder', 'pki_officer', 'security_admin']);
  });

  it('the two-person rule holds client-wide token revocation only; a security admin holds every action', () => {
    expect(e.pki_officer.withApproval).toEqual(['auth:revoke_client_tokens']);
    expect(e.security_admin.withApproval).toEqual(['auth:revoke_client_tokens']);
    expect(e.security_admin.denied).toEqual([]);
    expect(e.security_admin.withElevation).toEqual(
      expect.arrayContaining(['audit:prune', 'audit:hold', 'identity:link', 'identity:reset_mfa', 'pki:revoke']),
    );
  });
});
