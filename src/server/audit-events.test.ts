import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditLog, createAuditLog } from '../audit/index.js';
import { FixedClock } from '../platform/index.js';
import { FLEET_AUDIT_EVENTS } from '../relationships/index.js';
import { testDatabases } from '../testing/index.js';
import { PLATFORM_AUDIT_EVENTS, type PlatformAuditEvent } from './audit-events.js';

/** Every non-test source file under src/, except the audit-events declarations themselves. */
function sources(dir = 'src'): Array<{ path: string; text: string }> {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    if (!e.name.endsWith('.ts') || e.name.endsWith('.test.ts') || e.name === 'audit-events.ts') return [];
    return [{ path, text: readFileSync(path, 'utf8') }];
  });
}

describe('audit event types are a typed union per module', () => {
  const files = sources();
  const emittedLiterally = (type: string) => files.some((f) => f.text.includes(`'${type}'`));

  it("each module's types carry its prefix and no type is declared twice", () => {
    // The inventory's one type was named by the detection rule written for it first (deprecated-api-version).
    const prefix: Record<string, string> = { policy: 'authz.', inventory: 'http.version.' };
    const all = Object.entries(PLATFORM_AUDIT_EVENTS).flatMap(([module, types]) => {
      for (const t of types) expect(t.startsWith(prefix[module] ?? `${module}.`), `${module}: ${t}`).toBe(true);
      return [...types];
    });
    expect(new Set(all).size).toBe(all.length);
  });

  it('lists only what some code writes (no stale entries)', () => {
    const pkiIssued = /^pki\.([a-z]+)_cert\.issued$/;
    const fleet = Object.entries(FLEET_AUDIT_EVENTS);
    const fleetCode = files.find((f) => f.path.endsWith(join('relationships', 'fleet.ts')))?.text ?? '';
    const provisioning = files.find((f) => f.path.endsWith(join('pki', 'provisioning.ts')))?.text ?? '';
    const profiles = files.find((f) => f.path.endsWith(join('pki', 'profiles.ts')))?.text ?? '';
    for (const type of Object.values(PLATFORM_AUDIT_EVENTS).flat()) {
      const issued = pkiIssued.exec(type);
      const change = fleet.find(([, t]) => t === type)?.[0];
      // Two kinds are written through a name built from data: certificates per profile, fleet changes per action.
      const written = issued
        ? provisioning.includes('`pki.${args.subject.profile}_cert.issued`') &&
          profiles.includes(`profile: '${issued[1]}'`)
        : change
          ? fleetCode.includes(`'${change}'`)
          : emittedLiterally(type);
      expect(written, `${type} is declared but nothing writes it`).toBe(true);
    }
  });

  it('refuses an unknown type at compile time for typed holders', () => {
    const check = (log: AuditLog<PlatformAuditEvent>) =>
      log.append(null as never, {
        // @ts-expect-error a made-up event type is not in any module's union (tsc fails if this line compiles)
        type: 'pki.device.teleported',
        actor: { type: 'system' },
        action: 'x',
        decision: 'info',
      });
    // Never called: the assertion is tsc's (npm test runs it over the tests too).
    expect(typeof check).toBe('function');
  });
});

describe.each(testDatabases())('the runtime name check on $name', (target) => {
  let storage: Awaited<ReturnType<typeof target.open>>;
  beforeAll(async () => {
    storage = await target.open();
  });
  afterAll(async () => {
    await storage.close();
  });

  it('still refuses a malformed type from an untyped caller, and stores nothing', async () => {
    const audit = createAuditLog({ db: storage.db, clock: new FixedClock(new Date('2026-01-01T00:00:00Z')) });
    for (const type of ['', 'nodot', 'PKI.Device.Enrolled', 'pki..enrolled', 'pki.device.enrolled; drop'])
      await expect(
        audit.append(storage.db, { type, actor: { type: 'system' }, action: 'x', decision: 'info' }),
      ).rejects.toThrow(/invalid audit event type/);
    expect(await audit.list()).toEqual([]);
  });
});
