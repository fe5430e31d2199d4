import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient } from '../src/client/index.js';
import { currentTotp } from '../src/identity/index.js';
import { httpsRequest } from '../src/vehicle-sdk/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';

const APP = { clientId: 'carapace-fleet-console', redirectUri: 'http://127.0.0.1/callback' };

describe.each(testEngines())('account routes (%s)', (database) => {
  let cp: TestCarapace;
  beforeAll(async () => {
    cp = await startTestCarapace({ database, overrides: { seedDemo: true } });
  });
  afterAll(async () => {
    await cp.stop();
  });
  const signIn = async (email: string, password: string) => {
    const c = await CarapaceClient.create({ baseUrl: cp.config.publicBaseUrl, ca: cp.ca, ...APP });
    await c.login({ email, password, scopes: ['openid', 'offline_access', 'fleet:read'] });
    return c;
  };

  it('invites a fleet operator over HTTP and the invitee accepts; the code is never accepted twice', async () => {
    const fiona = await cp.platform.directory.findUserByEmail('fiona@northwind.example');
    const tenant = (await cp.platform.directory.activeMemberships(fiona!.id))[0]!.tenantId;
    // Fiona has MFA; sign in as Oscar (operator, no MFA) to show an operator cannot invite an admin.
    const oscar = await signIn('oscar@northwind.example', 'demo-oscar-password');
    const refused = await oscar.api('POST', `/v1/tenants/${tenant}/invitations`, {
      email: 'new@northwind.example',
      role: 'fleet_admin',
    });
    expect(refused.json).toMatchObject({ status: 403, code: 'ERR_FORBIDDEN' });
    const elsewhere = await oscar.api('POST', `/v1/tenants/${crypto.randomUUID()}/invitations`, {
      email: 'x@x.example',
      role: 'owner',
    });
    expect(elsewhere.json).toMatchObject({ status: 404, code: 'ERR_NOT_FOUND' });
    const massAssignment = await oscar.api('POST', `/v1/tenants/${tenant}/invitations`, {
      email: 'x@x.example',
      role: 'owner',
      invitedBy: fiona!.id,
    });
    // Authorization runs before body validation: a caller who may not invite learns nothing from the body.
    expect(massAssignment.json).toMatchObject({ status: 403, code: 'ERR_FORBIDDEN' });

    const invitation = await cp.platform.invitations.invite(
      { type: 'user', id: fiona!.id },
      { tenantId: tenant, email: 'derek@mainstreet.example', role: 'fleet_operator' },
    );
    const derek = await signIn('derek@mainstreet.example', 'demo-derek-password');
    expect((await derek.api('POST', '/v1/invitations/accept', { code: invitation.code })).json).toEqual({
      tenantId: tenant,
      role: 'fleet_operator',
    });
    expect((await derek.api('POST', '/v1/invitations/accept', { code: invitation.code })).status).toBe(404);
    expect(
      ((await derek.api('GET', '/v1/me')).json as { memberships: Array<{ role: string }> }).memberships.map(
        (m) => m.role,
      ),
    ).toContain('fleet_operator');
  });

  it('changes the password over HTTP only with the current one, and ends every session', async () => {
    const dana = await CarapaceClient.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId: 'carapace-owner-app',
      redirectUri: 'http://127.0.0.1/callback',
    });
    await dana.login({
      email: 'dana@example.com',
      password: 'demo-dana-password',
      scopes: ['openid', 'offline_access', 'vehicle:read_status'],
    });
    expect(
      (
        await dana.api('POST', '/v1/me/password', {
          currentPassword: 'guess-guess-guess',
          newPassword: 'a whole new password',
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await dana.api('POST', '/v1/me/password', {
          currentPassword: 'demo-dana-password',
          newPassword: 'a whole new password',
        })
      ).status,
    ).toBe(204);
    expect((await dana.api('GET', '/v1/me')).status).toBe(401);
    await expect(dana.refresh()).rejects.toMatchObject({ body: { error: 'invalid_grant' } });
    const again = await CarapaceClient.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId: 'carapace-owner-app',
      redirectUri: 'http://127.0.0.1/callback',
    });
    await again.login({
      email: 'dana@example.com',
      password: 'a whole new password',
      scopes: ['openid', 'vehicle:read_status'],
    });
    expect((await again.api('GET', '/v1/me')).status).toBe(200);
  });

  it("lets an operator reset a user's MFA on the admin plane, ending their tokens", async () => {
    const sue = await cp.platform.directory.findUserByEmail('sue@carapace.example');
    const res = await httpsRequest(`${cp.addresses.admin}/admin/v1/users/${sue!.id}/mfa-reset`, {
      method: 'POST',
      ca: cp.ca,
      cert: cp.operatorTls.cert,
      key: cp.operatorTls.key,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'lost phone' }),
    });
    expect(res.status).toBe(204);
    const row = await cp.platform.storage.db
      .selectFrom('users')
      .select(['totp_sealed', 'credential_epoch'])
      .where('id', '=', sue!.id)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ totp_sealed: null, credential_epoch: 1 });
    const [event] = await cp.platform.audit.list({ type: 'identity.user.mfa_reset', objectId: sue!.id });
    expect(event?.actor).toEqual({ type: 'operator', id: 'admin' });

    // Sue signs in with her password alone, enrols a new authenticator, and her next sign-in needs it.
    const app = { clientId: 'carapace-owner-app', redirectUri: 'http://127.0.0.1/callback' };
    const pwdOnly = await CarapaceClient.create({ baseUrl: cp.config.publicBaseUrl, ca: cp.ca, ...app });
    await pwdOnly.login({
      email: 'sue@carapace.example',
      password: 'demo-sue-password',
      scopes: ['openid', 'vehicle:read_status'],
    });
    expect(((await pwdOnly.api('GET', '/v1/me')).json as { session: { acr: string } }).session.acr).toBe(
      'urn:carapace:acr:pwd',
    );
    const begun = await pwdOnly.api('POST', '/v1/me/mfa/totp', { currentPassword: 'demo-sue-password' });
    expect(begun.status).toBe(201);
    const { secret, otpauthUri } = begun.json as { secret: string; otpauthUri: string };
    expect(otpauthUri).toContain(`secret=${secret}`);
    expect((await pwdOnly.api('POST', '/v1/me/mfa/totp/confirm', { code: '000000' })).status).toBe(403);
    const code = currentTotp(secret, new Date());
    expect((await pwdOnly.api('POST', '/v1/me/mfa/totp/confirm', { code })).status).toBe(204);
    // Enrolling ended every session and token of the account, the one that enrolled included.
    expect((await pwdOnly.api('POST', '/v1/me/mfa/totp', { currentPassword: 'demo-sue-password' })).status).toBe(401);
    const withoutCode = await CarapaceClient.create({ baseUrl: cp.config.publicBaseUrl, ca: cp.ca, ...app });
    await expect(
      withoutCode.login({ email: 'sue@carapace.example', password: 'demo-sue-password', scopes: ['openid'] }),
    ).rejects.toMatchObject({ status: 401 });
    const stored = await cp.platform.storage.db
      .selectFrom('users')
      .select(['totp_sealed', 'totp_pending_sealed'])
      .where('id', '=', sue!.id)
      .executeTakeFirstOrThrow();
    expect(stored.totp_pending_sealed).toBeNull();
    expect(JSON.stringify(stored)).not.toContain(secret);
  });
});
