/**
 * Addresses as rules see them: `net(<path>)` renders a source address as its network (an IPv4 /24, an IPv6
 * /64), and the operator's geo table (`detect.geo`) places an address for the `travel` kind.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** One row of the operator's geo table: a network and where it is. */
export interface GeoEntry {
  cidr: string;
  latitude: number;
  longitude: number;
  label: string;
}

/** A located address. */
export interface Place {
  latitude: number;
  longitude: number;
  label: string;
}

/** The eight 16-bit groups of an IPv6 address, or null. */
function ipv6Groups(address: string): number[] | null {
  if (!isIPv6(address)) return null;
  let text = address.toLowerCase().split('%')[0] as string;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = (v4[1] as string).split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, -(v4[1] as string).length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (s: string) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const fill = tail === undefined ? [] : new Array<number>(8 - left.length - right.length).fill(0);
  return [...left, ...fill, ...right];
}

/** An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) as its IPv4 form; anything else unchanged. */
function unmapped(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? (m[1] as string) : address;
}

/** The network of an address: `203.0.113.0/24` for IPv4, `2001:db8:1:2::/64` for IPv6; null if not an address. */
export function networkOf(raw: string): string | null {
  const address = unmapped(raw);
  if (isIPv4(address)) return `${address.split('.').slice(0, 3).join('.')}.0/24`;
  const groups = ipv6Groups(address);
  if (!groups) return null;
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** A lookup over the geo table: the first entry whose network holds the address, or null. */
export function createGeoLookup(entries: readonly GeoEntry[]): (address: string) => Place | null {
  const lists = entries.map((e) => {
    const [net, bits] = e.cidr.split('/') as [string, string | undefined];
    const type = isIPv4(net) ? 'ipv4' : 'ipv6';
    const list = new BlockList();
    list.addSubnet(net, Number(bits ?? (type === 'ipv4' ? 32 : 128)), type);
    return { list, type, place: { latitude: e.latitude, longitude: e.longitude, label: e.label } };
  });
  return (raw) => {
    const address = unmapped(raw);
    const type = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : null;
    if (!type) return null;
    return lists.find((l) => l.type === type && l.list.check(address, type))?.place ?? null;
  };
}

/** True when `cidr` is a valid IPv4 or IPv6 network in CIDR notation. */
export function isCidr(cidr: string): boolean {
  const [net, bits, extra] = cidr.split('/');
  if (extra !== undefined || net === undefined || bits === undefined || !/^\d{1,3}$/.test(bits)) return false;
  if (isIPv4(net)) return Number(bits) <= 32;
  return isIPv6(net) && Number(bits) <= 128;
}

/** Great-circle distance in kilometres (haversine). */
export function distanceKm(a: Place, b: Place): number {
  const rad = (d: number) => (d * Math.PI) / 180;
  const dLat = rad(b.latitude - a.latitude);
  const dLon = rad(b.longitude - a.longitude);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.latitude)) * Math.cos(rad(b.latitude)) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(h)));
}
