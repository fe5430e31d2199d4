/**
 * Which addresses an outbound call may connect to. Ranges come from ipaddr.js (a maintained parser with the IANA
 * special-purpose registries), not from our own regexes: only what it calls global `unicast` is public, and the
 * few unicast-looking ranges it does not name are refused here by CIDR.
 */
import ipaddr from 'ipaddr.js';

/** Why an address is refused: the ipaddr.js range name (`private`, `loopback`, `ipv4Mapped`, …) or ours. */
export type AddressVerdict = { ok: true } | { ok: false; reason: string };

/** Cloud metadata endpoints: refused whatever an allowlist says (AWS, ECS task metadata, Alibaba, AWS IPv6). */
const METADATA = ['169.254.169.254', '169.254.170.2', '100.100.100.200', 'fd00:ec2::254'].map((a) => ipaddr.parse(a));

/** Unicast to ipaddr.js, but not public: IPv4-compatible IPv6 (::/96, deprecated) and documentation 3fff::/20. */
const NOT_PUBLIC_V6 = ['::/96', '3fff::/20'].map((c) => ipaddr.parseCIDR(c));

/** A parsed CIDR list (config `outbound.siem.allowPrivateCidrs`, or the test-only public list). */
export type CidrList = Array<[ipaddr.IPv4 | ipaddr.IPv6, number]>;

/** Parses CIDRs (a bare address is a /32 or /128); throws naming the first that is not one. */
export function parseCidrs(list: readonly string[]): CidrList {
  return list.map((c) => {
    if (!c.includes('/')) {
      const a = ipaddr.parse(c);
      return [a, a.kind() === 'ipv4' ? 32 : 128];
    }
    return ipaddr.parseCIDR(c);
  });
}

/** The address as ipaddr.js parses it, or null when it is not an IP literal in canonical form. */
export function parseAddress(raw: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  // A zone id (`fe80::1%eth0`) names an interface of ours: never acceptable, so never parsed.
  if (raw.includes('%')) return null;
  // Only the four-part decimal IPv4 form: `ipaddr.isValid` also takes `0xa9fea9fe` and `2852039166`, which a DNS
  // answer never holds; the URL parser has already turned such host forms into dotted decimal.
  if (ipaddr.IPv4.isValidFourPartDecimal(raw)) return ipaddr.IPv4.parse(raw);
  return ipaddr.IPv6.isValid(raw) ? ipaddr.IPv6.parse(raw) : null;
}

function inList(address: ipaddr.IPv4 | ipaddr.IPv6, list: CidrList): boolean {
  return list.some(([net, bits]) => address.kind() === net.kind() && address.match(net, bits));
}

/** True for a metadata endpoint, also when written as an IPv4-mapped IPv6 address. */
function isMetadata(address: ipaddr.IPv4 | ipaddr.IPv6): boolean {
  const plain =
    address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()
      ? (address as ipaddr.IPv6).toIPv4Address()
      : address;
  return METADATA.some((m) => m.kind() === plain.kind() && m.toNormalizedString() === plain.toNormalizedString());
}

/** The range an address belongs to: `unicast` only for global unicast. */
export function rangeOf(address: ipaddr.IPv4 | ipaddr.IPv6): string {
  if (address.kind() === 'ipv6' && NOT_PUBLIC_V6.some(([net, bits]) => address.match(net, bits))) return 'reserved';
  return address.range();
}

/**
 * Judges one resolved (or literal) address. `allowed` are CIDRs let through although not public (the SIEM
 * allowlist, loopback for development http, the test-only list); metadata endpoints are refused whatever it says.
 */
export function judgeAddress(raw: string, allowed: CidrList): AddressVerdict {
  const address = parseAddress(raw);
  if (!address) return { ok: false, reason: raw.includes('%') ? 'zone_id' : 'not_an_address' };
  if (isMetadata(address)) return { ok: false, reason: 'metadata' };
  if (inList(address, allowed)) return { ok: true };
  const range = rangeOf(address);
  return range === 'unicast' ? { ok: true } : { ok: false, reason: range };
}

/** True when the address is loopback (127.0.0.0/8 or ::1): what development http may reach. */
export function isLoopback(raw: string): boolean {
  const address = parseAddress(raw);
  return address !== null && address.range() === 'loopback';
}

/** Loopback as CIDRs, the allowance development http adds. */
export const LOOPBACK_CIDRS: CidrList = parseCidrs(['127.0.0.0/8', '::1/128']);
