import { describe, expect, it } from 'vitest';
import type { StoredAuditEvent } from '../audit/index.js';
import { toOcsf } from './ocsf.js';

/**
 * The OCSF 1.3.0 requirements, written out here from the schema (not from the mapper): base event required fields,
 * the required objects of each class and what each of those objects itself requires.
 */
const BASE_REQUIRED = ['activity_id', 'category_uid', 'class_uid', 'metadata', 'severity_id', 'time', 'type_uid'];
const CLASS_REQUIRED: Record<number, { category: number; fields: string[]; activities: number[] }> = {
  6003: { category: 6, fields: ['actor', 'api', 'src_endpoint'], activities: [0, 1, 2, 3, 4, 99] },
  3002: { category: 3, fields: ['user'], activities: [0, 1, 2, 3, 4, 5, 6, 7, 99] },
  3001: { category: 3, fields: ['user'], activities: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 99] },
  3004: { category: 3, fields: ['entity'], activities: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 99] },
  2004: { category: 2, fields: ['finding_info'], activities: [0, 1, 2, 3, 99] },
  2005: { category: 2, fields: ['finding_info_list'], activities: [0, 1, 2, 3, 99] },
};

/** Every violation of the requirements above, as readable strings (empty: valid). */
function violations(r: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const f of BASE_REQUIRED) if (r[f] === undefined || r[f] === null) out.push(`missing ${f}`);
  const spec = CLASS_REQUIRED[r.class_uid as number];
  if (!spec) return [...out, `unknown class ${String(r.class_uid)}`];
  for (const f of spec.fields) if (typeof r[f] !== 'object' || r[f] === null) out.push(`missing ${f}`);
  if (r.category_uid !== spec.category) out.push('category_uid does not match the class');
  if (!spec.activities.includes(r.activity_id as number)) out.push(`activity_id ${String(r.activity_id)} undefined`);
  if (r.type_uid !== (r.class_uid as number) * 100 + (r.activity_id as number)) out.push('type_uid != class*100+act');
  if (!Number.isInteger(r.time)) out.push('time is not epoch milliseconds');
  const m = r.metadata as Record<string, unknown>;
  const product = m.product as Record<string, unknown> | undefined;
  if (typeof m.version !== 'string' || !product?.vendor_name)
    out.push('metadata needs version and product.vendor_name');
  if (typeof m.uid !== 'string') out.push('metadata.uid (the event id) missing');
  const api = r.api as Record<string, unknown> | undefined;
  if (spec.fields.includes('api') && typeof api?.operation !== 'string') out.push('api.operation missing');
  const user = r.user as Record<string, unknown> | undefined;
  if (spec.fields.includes('user') && !user?.uid && !user?.name) out.push('user needs uid or name');
  const entity = r.entity as Record<string, unknown> | undefined;
  if (spec.fields.includes('entity') && !entity?.uid && !entity?.name) out.push('entity needs uid or name');
  const info = r.finding_info as Record<string, unknown> | undefined;
  if (spec.fields.includes('finding_info') && (!info?.uid || !info?.title)) out.push('finding_info needs uid, title');
  const list = r.finding_info_list as Record<string, unknown>[] | undefined;
  if (spec.fields.includes('finding_info_list') && (!list?.length || list.some((i) => !i.uid || !i.title)))
    out.push('finding_info_list needs at least one finding_info with uid, title');
  if (r.class_uid === 2005 && ![0, 1, 2, 3, 4, 5, 99].includes(r.status_id as number)) out.push('2005 needs status_id');
  return out;
}

let n = 0;
function event(over: Partial<StoredAuditEvent>): StoredAuditEvent {
  n++;
  return {
    seq: n,
    id: `evt-${n}`,
    occurredAt: '2025-03-01T10:00:00.000Z',
    type: 'commands.job.requested',
    actor: { type: 'user', id: 'usr-1' },
    applicationId: 'app-1',
    tenantId: 'ten-1',
    object: { type: 'vehicle', id: 'veh-1' },
    action: 'vehicle:unlock',
    decision: 'allow',
    reason: null,
    policyVersion: 'pv-7',
    context: { requestId: 'req-1', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', sourceIp: '203.0.113.9' },
    details: { command: 'unlock' },
    ...over,
  };
}

const opts = { productVersion: '0.1.0' };

describe('OCSF mapping', () => {
  it('maps a command request to API Activity 6003 with actor, api, src_endpoint, resources and policy', () => {
    const r = toOcsf(event({}), 41, opts);
    expect(violations(r)).toEqual([]);
    expect(r).toMatchObject({
      class_uid: 6003,
      category_uid: 6,
      activity_id: 1,
      type_uid: 600301,
      status_id: 1,
      severity_id: 1,
      time: Date.parse('2025-03-01T10:00:00.000Z'),
      metadata: {
        uid: 'evt-1',
        version: '1.3.0',
        event_code: 'commands.job.requested',
        tenant_uid: 'ten-1',
        correlation_uid: '4bf92f3577b34da6a3ce929d0e0e4736',
        sequence: 41,
      },
      actor: {
        user: { uid: 'usr-1', type_id: 1 },
        app_uid: 'app-1',
        authorizations: [{ decision: 'allow', policy: { version: 'pv-7' } }],
      },
      api: { operation: 'vehicle:unlock', service: { name: 'commands' }, request: { uid: 'req-1' } },
      src_endpoint: { ip: '203.0.113.9' },
      resources: [{ uid: 'veh-1', type: 'vehicle' }],
      unmapped: { details: { command: 'unlock' }, carapace: { seq: 1, leaf_index: 41, actor_type: 'user' } },
    });
  });

  it('derives API activity from the verb and status and severity from the decision', () => {
    const denied = toOcsf(
      event({ type: 'authz.decision', action: 'vehicle:read', decision: 'deny', reason: 'x' }),
      0,
      opts,
    );
    expect(violations(denied)).toEqual([]);
    expect(denied).toMatchObject({ activity_id: 2, status_id: 2, status_detail: 'x', severity_id: 3 });
    const odd = toOcsf(event({ type: 'gateway.request.refused', action: 'gateway:frobnicate' }), 0, opts);
    expect(odd.activity_id).toBe(99);
    expect(violations(odd)).toEqual([]);
  });

  it('keeps internal events valid: no source address becomes a named internal endpoint', () => {
    const r = toOcsf(
      event({ actor: { type: 'system', id: null }, context: { requestId: null, traceId: null, sourceIp: null } }),
      0,
      opts,
    );
    expect(violations(r)).toEqual([]);
    expect(r.src_endpoint).toEqual({ name: 'carapace-internal' });
    expect((r.actor as { user: unknown }).user).toEqual({ uid: 'unknown', type_id: 3, type: 'System' });
  });

  it('maps sign-ins and tokens to Authentication 3002', () => {
    const ok = toOcsf(
      event({ type: 'auth.login.succeeded', action: 'auth:login', object: { type: 'user', id: 'u' } }),
      0,
      opts,
    );
    expect(violations(ok)).toEqual([]);
    expect(ok).toMatchObject({ class_uid: 3002, activity_id: 1, type_uid: 300201, user: { uid: 'u' }, status_id: 1 });
    const failed = toOcsf(event({ type: 'auth.login.failed', decision: 'deny', reason: 'bad_password' }), 0, opts);
    expect(failed).toMatchObject({ class_uid: 3002, status_id: 2, status_detail: 'bad_password' });
    const revoked = toOcsf(event({ type: 'auth.token.revoked', object: { type: 'token', id: 'jti-1' } }), 0, opts);
    expect(revoked).toMatchObject({ class_uid: 3002, activity_id: 2, user: { uid: 'jti-1' } });
    expect(violations(revoked)).toEqual([]);
  });

  it('maps account changes to Account Change 3001', () => {
    for (const [type, activity] of [
      ['identity.user.created', 1],
      ['identity.user.password_changed', 3],
      ['identity.user.mfa_enrolled', 10],
      ['identity.user.mfa_reset', 11],
    ] as const) {
      const r = toOcsf(event({ type, object: { type: 'user', id: 'usr-9' } }), 0, opts);
      expect(violations(r)).toEqual([]);
      expect(r).toMatchObject({ class_uid: 3001, activity_id: activity, user: { uid: 'usr-9' } });
    }
  });

  it('maps managed things to Entity Management 3004', () => {
    for (const [type, activity] of [
      ['identity.tenant.created', 1],
      ['pki.device.enrolled', 6],
      ['pki.certificate.revoked', 11],
      ['relationships.ended', 4],
      ['telemetry.device.quarantined', 12],
      ['telemetry.quarantine.released', 13],
    ] as const) {
      const r = toOcsf(event({ type, object: { type: 'device', id: 'dev-1' } }), 0, opts);
      expect(violations(r)).toEqual([]);
      expect(r).toMatchObject({ class_uid: 3004, activity_id: activity, entity: { uid: 'dev-1', type: 'device' } });
    }
  });

  it("maps alerts to Detection Finding 2004, and takes a later module's rules first", () => {
    const raised = event({ type: 'telemetry.alert', reason: 'sequence_jump', decision: 'info' });
    const alert = toOcsf(raised, 0, opts);
    expect(violations(alert)).toEqual([]);
    expect(alert).toMatchObject({
      class_uid: 2004,
      category_uid: 2,
      severity_id: 4,
      status_id: 1,
      finding_info: { uid: raised.id, title: 'sequence_jump', types: ['telemetry.alert'] },
    });
    const extra = [{ match: 'detect.', class: 'finding' as const, activityId: 2 }];
    const finding = toOcsf(event({ type: 'detect.finding.updated', reason: 'token reuse' }), 0, {
      ...opts,
      extraRules: extra,
    });
    expect(violations(finding)).toEqual([]);
    expect(finding).toMatchObject({ class_uid: 2004, activity_id: 2, type_uid: 200402 });
  });

  it("maps the detection engine's findings to Detection Finding 2004: rule, severity, status, assets, evidence", () => {
    const details = {
      findingId: 'fnd-1',
      ruleId: 'vin-enumeration',
      ruleVersion: 3,
      title: 'Sequential VIN enumeration',
      severity: 'critical',
      status: 'open',
      count: 4,
      summary: '7 distinct VINs',
      firstSeen: '2025-03-01T09:59:00.000Z',
      lastSeen: '2025-03-01T10:00:00.000Z',
      evidence: ['evt-a', 'evt-b'],
      users: ['usr-9'],
      vehicles: ['veh-1', 'veh-2'],
      networks: ['203.0.113.0/24'],
      metaRule: false,
    };
    const at = (type: string, status = 'open') =>
      toOcsf(
        event({
          type,
          actor: { type: 'system', id: 'detect' },
          object: { type: 'finding', id: 'fnd-1' },
          decision: 'info',
          details: { ...details, status },
        }),
        0,
        opts,
      );
    const raised = at('detect.finding.raised');
    expect(violations(raised)).toEqual([]);
    expect(raised).toMatchObject({
      class_uid: 2004,
      activity_id: 1,
      severity_id: 5,
      status_id: 1,
      count: 4,
      finding_info: {
        uid: 'fnd-1',
        title: 'Sequential VIN enumeration',
        desc: '7 distinct VINs',
        types: ['vin-enumeration'],
        analytic: { uid: 'vin-enumeration', type_id: 1, version: '3' },
        related_events: [{ uid: 'evt-a' }, { uid: 'evt-b' }],
        first_seen_time_dt: details.firstSeen,
      },
      resources: [
        { uid: 'veh-1', type: 'vehicle' },
        { uid: 'veh-2', type: 'vehicle' },
        { uid: 'usr-9', type: 'user' },
        { uid: '203.0.113.0/24', type: 'network' },
      ],
    });
    expect(at('detect.finding.updated')).toMatchObject({ activity_id: 2, status_id: 1 });
    expect(at('detect.finding.resolved', 'resolved')).toMatchObject({ activity_id: 3, status_id: 4 });
    expect(at('detect.finding.suppressed', 'suppressed')).toMatchObject({ activity_id: 3, status_id: 3 });
  });

  it('never drops a field: what OCSF has no place for is under unmapped, and null fields are left out', () => {
    const r = toOcsf(event({ applicationId: null, tenantId: null, policyVersion: null }), 3, opts);
    expect(JSON.stringify(r)).not.toContain('null');
    expect(r.metadata).not.toHaveProperty('tenant_uid');
    expect((r.unmapped as { carapace: Record<string, unknown> }).carapace).toEqual({
      seq: expect.any(Number),
      leaf_index: 3,
      actor_type: 'user',
      request_id: 'req-1',
    });
  });

  it('maps incident events to Incident Finding 2005: open is Create, close is Close, state and severity kept', () => {
    const incident = { type: 'incident', id: 'inc-1' };
    const opened = toOcsf(
      event({
        type: 'incidents.opened',
        action: 'incidents:opened',
        decision: 'info',
        object: incident,
        reason: 'finding',
        details: { state: 'open', severity: 'critical' },
      }),
      7,
      opts,
    );
    expect(violations(opened)).toEqual([]);
    expect(opened).toMatchObject({
      class_uid: 2005,
      category_uid: 2,
      activity_id: 1,
      type_uid: 200501,
      status_id: 1,
      severity_id: 5,
      finding_info_list: [{ uid: 'inc-1', types: ['incidents.opened'] }],
    });
    const closed = toOcsf(
      event({
        type: 'incidents.transitioned',
        action: 'incidents:state',
        object: incident,
        details: { from: 'recovered', to: 'closed', state: 'closed', severity: 'high' },
      }),
      8,
      opts,
    );
    expect(violations(closed)).toEqual([]);
    expect(closed).toMatchObject({ class_uid: 2005, activity_id: 3, type_uid: 200503, status_id: 5, severity_id: 4 });
    const step = toOcsf(
      event({ type: 'incidents.playbook.step_done', action: 'incidents:playbook_step', object: incident, details: {} }),
      9,
      opts,
    );
    expect(violations(step)).toEqual([]);
    expect(step).toMatchObject({ class_uid: 2005, activity_id: 2, status_id: 99, severity_id: 1 });
    expect((step.finding_info_list as { uid: string }[])[0]!.uid).toBe('inc-1');
  });
});
