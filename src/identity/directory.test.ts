import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../audit/index.js';
import { revokeAccountTokens } from '../auth/index.js';
import { FixedClock } from '../platform/index.js';
import { testDatabases } from '../testing/index.js';
import { checkTotp, currentTotp, verifyPassword } from './credentials.js';
import { createDirectory } from './directory.js';
import { createInvitations } from './invitations.js';
import { readScenario } from '../server/index.js';
import { createSecretBox } from './secret-box.js';

describe.each(testDatabases())('directory on $name', (target) => {
  let storage: Awaited<ReturnType<typeof target.open>>;
  let directory: ReturnType<typeof createDirectory>;
  const clock = new FixedClock(new Date('2026-03-01T12:00:00Z'));
  const system = { type: 'system' as const, id: 'seed' as const };

  beforeAll(async () => {
    storage = await target.open();
    directory = createDirectory({
      db: storage.db,
      audit: createAuditLog({ db: storage.db, clock }),
      clock,
      secrets: createSecretBox(join(storage.dataDir, 'box.key')),
      sessions: { revokeAll: revokeAccountTokens },
    });
  });
  afterAll(async () => {
    await storage.close();
  });

  it('stores passwords as argon2id hashes and TOTP secrets sealed, never in the clear', async () => {
    const user = await directory.createUser(system, {
      email: ' Alice@Example.com ',
      displayName: 'Alice',
      password: 'a long enough password',
      totpSecret: 'JBSWY3DPEHPK3PXPALICE234',
    });
    const row = await storage.db.selectFrom('users').selectAll().where('id', '=', user.id).executeTakeFirstOrThrow();
    expect(row.email).toBe('alice@example.com');
    expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(JSON.stringify(row)).not.toContain('a long enough password');
    expect(JSON.stringify(row)).not.toContain('JBSWY3DPEHPK3PXPALICE234');
    expect(directory.totpSecretOf(row)).toBe('JBSWY3DPEHPK3PXPALICE234');
    // A sealed secret moved to another user's row does not open.
    expect(() => directory.totpSecretOf({ id: 'someone-else', totp_sealed: row.totp_sealed })).toThrow();
    expect(await verifyPassword(row.password_hash, 'a long enough password')).toBe(true);
    expect(await verifyPassword(row.password_hash, 'a long enough passwore')).toBe(false);
    expect(await verifyPassword(null, 'a long enough password')).toBe(false);
  });

  it('accepts a TOTP code within one step of drift and names its step', () => {
    const secret = 'JBSWY3DPEHPK3PXPALICE234';
    const now = clock.now();
    const code = currentTotp(secret, now);
    const step = Math.floor(now.getTime() / 30_000);
    expect(checkTotp(secret, code, now)).toBe(step);
    expect(checkTotp(secret, code, new Date(now.getTime() + 30_000))).toBe(step);
    expect(checkTotp(secret, code, new Date(now.getTime() + 90_000))).toBeNull();
    expect(checkTotp(secret, '12345', now)).toBeNull();
  });

  // Who may invite and who may accept are policy decisions (test/policy-decisions.e2e.test.ts); the service keeps
  // the invariants: no direct privileged grant, one claim per code, none after expiry, no code at rest.
  it('grants privileged roles only by invitation, claims a code once and never after it expired', async () => {
    const invitations = createInvitations({
      db: storage.db,
      audit: createAuditLog({ db: storage.db, clock }),
      clock,
      ttlSeconds: 3600,
    });
    const fleet = await directory.createTenant(system, { name: 'Fleet', kind: 'fleet' });
    const other = await directory.createTenant(system, { name: 'Other fleet', kind: 'fleet' });
    const user = (email: string) =>
      directory.createUser(system, { email, displayName: email, password: 'a long enough password' });
    const [admin, op, lateUser] = [
      await user('admin@fleet.example'),
      await user('op@fleet.example'),
      await user('late@fleet.example'),
    ];
    await directory.grantMembership(system, { userId: admin.id, tenantId: fleet.id, role: 'fleet_admin' });
    await directory.grantMembership(system, { userId: admin.id, tenantId: other.id, role: 'owner' });
    const asAdmin = { type: 'user' as const, id: admin.id };
    const asOp = { type: 'user' as const, id: op.id };
    // Never directly, even by an admin.
    await expect(
      directory.grantMembership(asAdmin, { userId: op.id, tenantId: fleet.id, role: 'fleet_operator' }),
    ).rejects.toMatchObject({ code: 'ERR_FORBIDDEN' });
    const rowOf = async (id: string) =>
      storage.db.selectFrom('invitations').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    const invite = await invitations.invite(asAdmin, {
      tenantId: fleet.id,
      email: 'OP@fleet.example',
      role: 'fleet_operator',
    });
    const row = await rowOf(invite.id);
    expect(row.email).toBe('op@fleet.example');
    expect(JSON.stringify(row)).not.toContain(invite.code);
    expect(await invitations.accept(op.id, row)).toEqual({ tenantId: fleet.id, role: 'fleet_operator' });
    // The row as it was read before the first use: a second claim loses.
    await expect(invitations.accept(op.id, row)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    // Nobody invites into a tenant they do not belong to, or to a role of another kind of tenant.
    await expect(
      invitations.invite(asOp, { tenantId: other.id, email: 'x@fleet.example', role: 'owner' }),
    ).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    await expect(
      invitations.invite(asAdmin, { tenantId: fleet.id, email: 'x@fleet.example', role: 'security_admin' }),
    ).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    // A code that expired between the decision and the claim is refused.
    const late = await invitations.invite(asAdmin, {
      tenantId: fleet.id,
      email: 'late@fleet.example',
      role: 'fleet_operator',
    });
    const lateRow = await rowOf(late.id);
    clock.advance(2 * 3600_000);
    await expect(invitations.accept(lateUser.id, lateRow)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    // Self-signup roles need no invitation.
    await directory.grantMembership(asOp, { userId: op.id, tenantId: other.id, role: 'owner' });
    expect((await directory.activeMemberships(op.id)).map((m) => m.role).sort()).toEqual(['fleet_operator', 'owner']);
  });

  it('raises the credential epoch on password change and MFA reset, and audits both', async () => {
    const user = await directory.createUser(system, {
      email: 'epoch@example.com',
      displayName: 'E',
      password: 'a long enough password',
    });
    await directory.changePassword({ type: 'user', id: user.id }, user.id, 'another long password');
    await directory.resetMfa({ type: 'operator', id: 'admin' }, user.id, null);
    const row = await storage.db
      .selectFrom('users')
      .select(['credential_epoch'])
      .where('id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(row.credential_epoch).toBe(2);
    const audit = createAuditLog({ db: storage.db, clock });
    expect((await audit.list({ objectId: user.id })).map((e) => e.type)).toEqual([
      'identity.user.mfa_reset',
      'identity.user.password_changed',
      'identity.user.created',
    ]);
  });
});

describe('scenario files', () => {
  it('reads the shipped demo scenario', () => {
    const scenario = readScenario(new URL('../../scenarios/demo.yaml', import.meta.url).pathname);
    expect(scenario.users.map((u) => u.key)).toEqual(
      expect.arrayContaining([
        'alice',
        'bob',
        'dana',
        'frank',
        'fiona',
        'oscar',
        'carl',
        'derek',
        'sam',
        'sue',
        'sean',
      ]),
    );
  });

  it('names the bad path of an invalid scenario', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'scn-')), 's.yaml');
    writeFileSync(path, 'tenants: [{ key: t, name: T, kind: empire }]\nusers: []\n');
    expect(() => readScenario(path)).toThrow(/\/tenants\/0\/kind/);
    writeFileSync(path, 'tenants: []\nusers: []\nowners: []\n');
    expect(() => readScenario(path)).toThrow(/owners|additional/i);
  });
});
