import type https from 'node:https';
import { type ClientResponse, request } from '../client/index.js';

/** A response as the device SDK sees it. */
export type HttpsResponse = ClientResponse;

/** TLS identity and trust for a request. */
export interface TlsIdentity {
  ca: string | string[];
  cert?: string;
  key?: string;
  /** Reuse connections (keep-alive) through this agent. */
  agent?: https.Agent;
}

/** One HTTPS request with client-certificate authentication (the client library's transport, no cookies). */
export function httpsRequest(
  url: string,
  options: TlsIdentity & { method?: string; headers?: Record<string, string>; body?: string | Uint8Array },
): Promise<HttpsResponse> {
  return request(url, options);
}
