import https from 'node:https';
import type { DpopKey } from '../client/index.js';
import { httpsRequest } from '../vehicle-sdk/index.js';

/** One node of the deployment under drill: its three listeners. */
export interface DrillNode {
  name: string;
  publicUrl: string;
  gatewayUrl: string;
  adminUrl: string;
}

/** How the drill reaches the deployment: the nodes, the root CA, an operator certificate, the data directory. */
export interface DrillTarget {
  nodes: DrillNode[];
  /** The deployment's one public base URL (`publicBaseUrl`): the Host every node answers for, and what proofs name. */
  publicBaseUrl: string;
  ca: string;
  operator: { cert: string; key: string };
  /** The deployment's data directory, where seeding writes the drill units' factory credentials. */
  dataDir: string;
}

type Json = Record<string, unknown>;

/** The admin plane of one node, as an operator calls it. A refusal throws with the problem's status and code. */
export function adminOf(target: DrillTarget, node: DrillNode) {
  return async <T = Json>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await httpsRequest(`${node.adminUrl.replace(/\/$/, '')}${path}`, {
      method,
      ca: target.ca,
      ...target.operator,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status >= 400) {
      const p = (res.json ?? {}) as Json;
      throw new Error(
        `${method} ${path} on ${node.name}: ${res.status} ${String(p.code ?? '')} ${String(p.detail ?? '')}`,
      );
    }
    return res.json as T;
  };
}

/** Parses `--node public,gateway,admin` (three URLs, comma-separated) into a node named by its position. */
export function parseNode(value: string, index: number): DrillNode {
  const [publicUrl, gatewayUrl, adminUrl, ...rest] = value.split(',').map((s) => s.trim());
  if (!publicUrl || !gatewayUrl || !adminUrl || rest.length > 0)
    throw new Error(`--node takes three URLs, public,gateway,admin: got "${value}"`);
  for (const u of [publicUrl, gatewayUrl, adminUrl])
    if (!/^https:\/\/[^/]+/.test(u)) throw new Error(`--node: "${u}" is not an https URL`);
  return { name: `node-${index + 1}`, publicUrl, gatewayUrl, adminUrl };
}

/** Milliseconds since `t0` on this process's monotonic clock. */
export const since = (t0: number) => Math.round((performance.now() - t0) * 10) / 10;

/** Polls `check` every `everyMs` until it answers non-null or `timeoutMs` passes (then null). */
export async function until<T>(check: () => Promise<T | null>, timeoutMs: number, everyMs = 50): Promise<T | null> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => null);
    if (v !== null) return v;
    if (performance.now() > end) return null;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * A DPoP-bound API call to one node's public listener, as if through the deployment's public name: the connection
 * goes to the node, the Host and the proof name `publicBaseUrl`. `localAddress` picks the caller's network.
 */
export function callNode(
  target: DrillTarget,
  node: DrillNode,
  call: { method: string; path: string; token: string; dpop: DpopKey; localAddress?: string },
): Promise<number> {
  const to = new URL(node.publicUrl);
  const base = new URL(target.publicBaseUrl);
  const htu = `${target.publicBaseUrl.replace(/\/$/, '')}${call.path}`;
  return call.dpop.proof(call.method, htu, call.token).then(
    (proof) =>
      new Promise<number>((resolve, reject) => {
        const req = https.request(
          {
            host: to.hostname,
            port: to.port,
            path: call.path,
            method: call.method,
            ca: target.ca,
            agent: false,
            servername: base.hostname,
            localAddress: call.localAddress,
            setHost: false,
            headers: { host: base.host, authorization: `DPoP ${call.token}`, dpop: proof },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end();
      }),
  );
}
