import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FixedClock } from '../platform/index.js';
import { testDatabases } from '../testing/index.js';
import { AuditSecretError, createAuditLog, REDACTED } from './index.js';

describe.each(testDatabases())('audit log on $name', (target) => {
  let storage: Awaited<ReturnType<typeof target.open>>;
  const clock = new FixedClock(new Date('2026-01-01T00:00:00Z'));

  beforeAll(async () => {
    storage = await target.open();
  });
  afterAll(async () => {
    await storage.close();
  });

  it('appends events with the full rule 9 context and lists them newest first', async () => {
    const audit = createAuditLog({ db: storage.db, clock });
    await audit.append(storage.db, {
      type: 'pki.device.enrolled',
      actor: { type: 'device', id: 'dev-1' },
      tenantId: 't-1',
      object: { type: 'device', id: 'dev-1' },
      action: 'enroll',
      decision: 'allow',
      context: { requestId: 'req-1', traceId: 'trace-1', sourceIp: '127.0.0.1' },
      details: { serial: 'ABC', chain: ['x', 'y'] },
    });
    clock.advance(1000);
    await audit.append(storage.db, {
      type: 'gateway.request.refused',
      actor: { type: 'anonymous' },
      action: 'connect',
      decision: 'deny',
      reason: 'no_client_certificate',
    });

    const all = await audit.list();
    expect(all.map((e) => e.type)).toEqual(['gateway.request.refused', 'pki.device.enrolled']);
    const enrolled = all[1];
    expect(enrolled).toMatchObject({
      actor: { type: 'device', id: 'dev-1' },
      tenantId: 't-1',
      object: { type: 'device', id: 'dev-1' },
      decision: 'allow',
      context: { requestId: 'req-1', traceId: 'trace-1', sourceIp: '127.0.0.1' },
      details: { serial: 'ABC', chain: ['x', 'y'] },
      occurredAt: '2026-01-01T00:00:00.000Z',
    });
    expect(await audit.list({ typePrefix: 'pki.device' })).toHaveLength(1);
    expect(await audit.list({ typePrefix: 'pki_device' })).toHaveLength(0);
    expect(await audit.list({ decision: 'deny' })).toHaveLength(1);
    expect(await audit.list({ objectId: 'dev-1', type: 'pki.device.enrolled' })).toHaveLength(1);
  });

  it('is append-only: the database refuses updates and deletes', async () => {
    await expect(sql`update audit_events set reason = 'x'`.execute(storage.db)).rejects.toThrow(/append-only/);
    await expect(sql`delete from audit_events`.execute(storage.db)).rejects.toThrow(/append-only/);
    expect((await createAuditLog({ db: storage.db, clock }).list()).length).toBeGreaterThan(0);
  });

  it('commits an event only with the transaction that carries it', async () => {
    const audit = createAuditLog({ db: storage.db, clock });
    await expect(
      storage.db.transaction().execute(async (trx) => {
        await audit.append(trx, {
          type: 'pki.test.rolled_back',
          actor: { type: 'system' },
          action: 'x',
          decision: 'info',
        });
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await audit.list({ type: 'pki.test.rolled_back' })).toHaveLength(0);
  });

  it('refuses a secret-named detail, and redacts secret-shaped values in any field instead of failing', async () => {
    const audit = createAuditLog({ db: storage.db, clock });
    const base = {
      type: 'pki.test.secret',
      actor: { type: 'system' as const },
      action: 'x',
      decision: 'info' as const,
    };
    await expect(audit.append(storage.db, { ...base, details: { accessToken: 'abc' } })).rejects.toBeInstanceOf(
      AuditSecretError,
    );
    await expect(audit.append(storage.db, { ...base, details: { csr: 'x' } })).rejects.toBeInstanceOf(AuditSecretError);
    expect(await audit.list({ type: 'pki.test.secret' })).toHaveLength(0);
    const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';
    await audit.append(storage.db, {
      ...base,
      actor: { type: 'user', id: jwt },
      object: { type: 'x', id: encodeURIComponent(jwt) },
      reason: '-----BEGIN PRIVATE KEY-----\nMIG...',
      details: { note: `see ${jwt}`, list: ['fine', `Bearer ${'a'.repeat(30)}`], n: 1 },
    });
    const [stored] = await audit.list({ type: 'pki.test.secret' });
    expect(stored).toMatchObject({
      actor: { id: REDACTED },
      object: { id: REDACTED },
      reason: REDACTED,
      details: { note: REDACTED, list: ['fine', REDACTED], n: 1 },
    });
    expect(JSON.stringify(stored)).not.toContain('eyJ');
  });
});
