/**
 * The SSRF rules of the outbound layer: which URLs are acceptable, and which addresses their hosts may resolve to.
 * A destination is judged as a whole: one bad address among good ones refuses the name, because whichever the
 * connection would pick is not ours to choose.
 */
import { CarapaceError } from '../platform/index.js';
import { type CidrList, isLoopback, judgeAddress, LOOPBACK_CIDRS } from './address-policy.js';
import { addressesOf, type DnsLookup, type ResolvedAddress } from './resolve.js';

/**
 * What an outbound call is for; it selects the policy. `webhook`: a client-supplied URL, the strictest. `siem` and
 * `federation` (an external identity provider's discovery and keys): destinations the operator configured, which
 * may be let into private networks by CIDR. `otlp`: the trace collector, which may also be a loopback sidecar.
 */
export type OutboundPurpose = 'webhook' | 'siem' | 'federation' | 'otlp';

/** The address rules in force, built once from configuration. */
export interface DestinationRules {
  /** Development http to loopback (`outbound.allowLoopbackHttp`). */
  loopbackHttp: boolean;
  /** CIDRs the SIEM collector may reach although not public (`outbound.siem.allowPrivateCidrs`). */
  siemAllowed: CidrList;
  /** CIDRs an external identity provider may reach although not public (`outbound.federation.allowPrivateCidrs`). */
  federationAllowed: CidrList;
  /** CIDRs the trace collector may reach although not public (`outbound.otlp.allowPrivateCidrs`). */
  otlpAllowed: CidrList;
  /** Plain http to a loopback trace collector, production included (`outbound.otlp.allowLoopbackHttp`). */
  otlpLoopbackHttp: boolean;
  /** Test-only: CIDRs treated as public for every purpose (refused in production mode at creation). */
  testPublic: CidrList;
}

/** A judged destination: the URL, and the address the connection must go to. */
export interface Destination {
  url: URL;
  /** The host name (or literal, without brackets) as the URL names it: for SNI, Host and the audit event. */
  hostname: string;
  port: number;
  /** Every address the name resolved to (all judged acceptable); the connection goes to the first. */
  addresses: ResolvedAddress[];
}

/** Builds the ERR_OUTBOUND_BLOCKED error: the reason, the host and the offending address, nothing of the path. */
export function blocked(reason: string, message: string, host: string | null, address: string | null): CarapaceError {
  return new CarapaceError('ERR_OUTBOUND_BLOCKED', message, { reason, host, address });
}

/** A host that can only be loopback: a loopback literal, `localhost` or a name under it (RFC 6761). */
function namesLoopback(host: string): boolean {
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  return isLoopback(bare) || bare === 'localhost' || bare.endsWith('.localhost');
}

/** Parses and checks the URL's form: scheme, no credentials, no zone id, a host. */
export function checkForm(raw: string, rules: DestinationRules, purpose?: OutboundPurpose): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // The raw text might carry a secret (a token in the query): it is not repeated.
    throw blocked('invalid_url', 'the destination is not a URL', null, null);
  }
  const host = url.hostname;
  const loopbackHttp = rules.loopbackHttp || (purpose === 'otlp' && rules.otlpLoopbackHttp);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopbackHttp && namesLoopback(host)))
    throw blocked('scheme', 'the destination must be an https URL', host, null);
  // Credentials in a URL would be sent by us to whoever answers; they belong in the caller's own headers.
  if (url.username || url.password)
    throw blocked('userinfo', 'the destination URL must not carry credentials', host, null);
  if (!host) throw blocked('no_host', 'the destination URL has no host', null, null);
  return url;
}

function allowedFor(purpose: OutboundPurpose, rules: DestinationRules): CidrList {
  return [
    ...rules.testPublic,
    ...(purpose === 'siem' ? rules.siemAllowed : []),
    ...(purpose === 'federation' ? rules.federationAllowed : []),
    ...(purpose === 'otlp' ? rules.otlpAllowed : []),
    ...(rules.loopbackHttp || (purpose === 'otlp' && rules.otlpLoopbackHttp) ? LOOPBACK_CIDRS : []),
  ];
}

/** Resolves the URL's host and judges every address; throws ERR_OUTBOUND_BLOCKED naming the first bad one. */
export async function judgeDestination(
  url: URL,
  purpose: OutboundPurpose,
  rules: DestinationRules,
  dns: DnsLookup,
): Promise<Destination> {
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  let addresses: ResolvedAddress[];
  try {
    addresses = await addressesOf(url.hostname, dns);
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'error';
    throw new CarapaceError('ERR_OUTBOUND_FAILED', `the destination's name could not be resolved (${code})`, {
      reason: `dns_${code.toLowerCase()}`,
      host: hostname,
    });
  }
  if (addresses.length === 0)
    throw new CarapaceError('ERR_OUTBOUND_FAILED', "the destination's name has no address", {
      reason: 'dns_no_address',
      host: hostname,
    });
  const allowed = allowedFor(purpose, rules);
  for (const a of addresses) {
    const verdict = judgeAddress(a.address, allowed);
    if (!verdict.ok)
      throw blocked(
        verdict.reason,
        `the destination resolves to a refused address (${verdict.reason})`,
        hostname,
        a.address,
      );
  }
  // Plain http only where every address is loopback: a development receiver, never the network.
  if (url.protocol === 'http:' && !addresses.every((a) => isLoopback(a.address)))
    throw blocked('scheme', 'plain http is allowed only to loopback in development', hostname, addresses[0]!.address);
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { url, hostname, port, addresses };
}
