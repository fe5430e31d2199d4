import type { Agent } from 'node:https';
import { type Caller, type Ids, resolveIds, signInAll, World } from '../authz-matrix/index.js';
import { CarapaceClient, type ClientResponse, request } from '../client/index.js';
import type { Scenario } from '../server/index.js';

/** Where the deployment under attack is, and what the probe may use to reach it. */
export interface ProbeTarget {
  /** The public listener, e.g. https://staging.example:8443. */
  baseUrl: string;
  /** PEM of the CA the listeners' certificates chain to. */
  ca: string;
  /** The scenario the deployment was seeded with: its personas are the attackers. */
  scenario: Scenario;
  /** Directory holding the scenario partners' private JWKs (`<clientId>.private.jwk.json`). */
  partnerKeysDir: string;
  /** The vehicle gateway and admin plane, crawled unauthenticated when given. */
  gatewayUrl?: string;
  adminUrl?: string;
  /** An operator certificate, used only to read the API inventory of all three listeners. */
  operator?: { cert: string; key: string };
}

/** The probe could not run at all (target unreachable, scenario not seeded): exit 2, not a finding. */
export class ProbeUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProbeUnavailable';
  }
}

/** A request the probe builds by hand (forged tokens, replayed proofs, no credentials at all). */
export interface RawRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
  tls?: { cert: string; key: string };
}

/** A status and problem code as a finding prints them: `404 ERR_NOT_FOUND`, or `refused at TLS` for no answer. */
export function observed(res: ClientResponse): string {
  if (res.status === 0) return `no answer (${res.text})`;
  const code = (res.json as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? `${res.status} ${code}` : String(res.status);
}

/** The problem code of an answer, if it has one. */
export function codeOf(res: ClientResponse): string | null {
  const code = (res.json as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : null;
}

/** A request the route framework let through to validation or the handler: the caller was authorized. */
export function reachedHandler(res: ClientResponse): boolean {
  return (res.status >= 200 && res.status < 300) || (res.status === 400 && codeOf(res) === 'ERR_VALIDATION');
}

/**
 * The scenario's personas signed in to the target, with the ids of the scenario's objects: what every attack
 * class starts from. Built once per run.
 */
export class ProbeSession {
  private constructor(
    readonly target: ProbeTarget,
    readonly world: World,
    readonly callers: Map<string, Caller>,
    readonly ids: Ids,
    private readonly agents: Agent[],
  ) {}

  /** Checks the target answers, then signs every persona in and resolves the scenario's object ids. */
  static async open(target: ProbeTarget): Promise<ProbeSession> {
    const health = await rawRequest(`${base(target)}/healthz`, target.ca, {});
    if (health.status !== 200) throw new ProbeUnavailable(`${base(target)} does not answer: ${observed(health)}`);
    const world = new World(target.scenario, Date.now());
    const agents: Agent[] = [];
    try {
      const matrixTarget = { baseUrl: target.baseUrl, ca: target.ca, partnerKeysDir: target.partnerKeysDir };
      const callers = await signInAll(world, target.scenario, matrixTarget, agents);
      const ids = await resolveIds(world, target.scenario, callers);
      return new ProbeSession(target, world, callers, ids, agents);
    } catch (err) {
      for (const a of agents) a.destroy();
      const why = err instanceof Error ? err.message : String(err);
      throw new ProbeUnavailable(`the scenario's personas cannot sign in to ${base(target)}: ${why}`, { cause: err });
    }
  }

  /** A persona's API caller. */
  caller(persona: string): Caller {
    const c = this.callers.get(persona);
    if (!c) throw new Error(`no signed-in persona ${persona}`);
    return c;
  }

  /** A person's client (tokens and DPoP key), or null for a partner or an unknown key. */
  person(persona: string): CarapaceClient | null {
    const c = this.callers.get(persona);
    return c instanceof CarapaceClient ? c : null;
  }

  /** The first persona holding `role`, or null when the scenario has none. */
  withRole(role: string, pred: (key: string) => boolean = () => true): string | null {
    for (const p of this.world.personas.values()) if (p.roles.some((r) => r.role === role) && pred(p.key)) return p.key;
    return null;
  }

  /** The public listener's origin. */
  get baseUrl(): string {
    return base(this.target);
  }

  /** Sends a hand-built request to a full URL; a connection refused or reset is an answer of status 0. */
  raw(url: string, req: RawRequest = {}): Promise<ClientResponse> {
    return rawRequest(url, this.target.ca, req);
  }

  /** Closes the personas' connection pools. */
  close(): void {
    for (const a of this.agents) a.destroy();
  }
}

const base = (t: ProbeTarget) => t.baseUrl.replace(/\/$/, '');

async function rawRequest(url: string, ca: string, req: RawRequest): Promise<ClientResponse> {
  const json = req.body !== undefined && typeof req.body !== 'string';
  try {
    return await request(url, {
      ca,
      method: req.method ?? 'GET',
      headers: { ...(json ? { 'content-type': 'application/json' } : {}), ...req.headers },
      body: req.body === undefined ? undefined : json ? JSON.stringify(req.body) : (req.body as string),
      ...(req.tls ?? {}),
    });
  } catch (err) {
    // A listener that refuses the connection (TLS without a client certificate) refused the attack.
    return { status: 0, headers: {}, text: err instanceof Error ? err.message : String(err), json: null };
  }
}
