import type { Finding, FindingAssets } from '../src/detect/index.js';
import type { TestCarapace } from '../src/testing/index.js';
import { httpsRequest } from '../src/vehicle-sdk/index.js';

/** An operator's TLS credentials for the admin plane. */
export interface OperatorTls {
  cert: string;
  key: string;
}

/** Calls the admin plane as an operator (the development `admin` by default). */
export async function admin(
  cp: TestCarapace,
  method: string,
  path: string,
  body?: unknown,
  as: OperatorTls = cp.operatorTls,
): Promise<{ status: number; json: Record<string, unknown> & { [k: string]: unknown } }> {
  const res = await httpsRequest(`${cp.addresses.admin}${path}`, {
    method,
    ca: cp.ca,
    cert: as.cert,
    key: as.key,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: res.json as Record<string, unknown> };
}

/** A second operator, with its own certificate from the platform's root, bound to the security_admin role. */
export async function secondOperator(cp: TestCarapace, name: string): Promise<OperatorTls> {
  const issued = await cp.platform.pki.issueOperatorCertificate({
    name,
    csrPem: null,
    actor: { type: 'system', id: null },
  });
  // Bound to the role the first (development) operator holds: these tests are about the incident rules.
  await cp.platform.operators.directory.bindCertificate(
    { type: 'system', id: null },
    { name, serial: issued.serial, role: 'security_admin' },
  );
  return { cert: issued.certificatePem, key: issued.privateKeyPem! };
}

const noAssets = (): FindingAssets => ({
  vehicles: [],
  devices: [],
  users: [],
  clients: [],
  tenants: [],
  serials: [],
  thumbprints: [],
  networks: [],
});

/** A finding as the detection engine would report it (built here: the engine is another module). */
export function finding(over: Partial<Omit<Finding, 'assets'>> & { assets?: Partial<FindingAssets> }): Finding {
  const now = new Date().toISOString();
  return {
    id: crypto.randomUUID(),
    ruleId: 'test-rule',
    ruleVersion: 1,
    title: 'test finding',
    severity: 'high',
    tenantId: null,
    groupKey: `test:${crypto.randomUUID()}`,
    status: 'open',
    truncated: false,
    firstSeen: now,
    lastSeen: now,
    count: 1,
    evidence: [],
    summary: 'a test hit',
    incidentId: null,
    ...over,
    assets: { ...noAssets(), ...over.assets },
  };
}

/** Reports a finding through the reaction port, in a transaction as the engine does. */
export function report(cp: TestCarapace, f: Finding, raised = true): Promise<{ incidentId: string | null }> {
  return cp.platform.storage.db.transaction().execute((trx) => cp.platform.incidents.onFinding(trx, f, { raised }));
}

/** Step rows of a run as the API returns them. */
export interface StepJson {
  id: string;
  stepId: string;
  action: string;
  state: string;
  approval: string;
  vehicleCount: number;
  targets: string[];
  decidedBy: string | null;
  decidedAt: string | null;
  startedAt: string | null;
  effectiveAt: string | null;
  result: string | null;
  error: string | null;
}

/** A run as the API returns it. */
export interface RunJson {
  id: string;
  state: string;
  requestedBy: string;
  steps: StepJson[];
}

/** The result of one step of a run, parsed. */
export function resultOf(run: RunJson, stepId: string): Record<string, unknown> {
  const s = run.steps.find((x) => x.stepId === stepId);
  if (!s?.result) throw new Error(`step ${stepId} has no result (${s?.state ?? 'missing'}: ${s?.error ?? ''})`);
  return JSON.parse(s.result) as Record<string, unknown>;
}
