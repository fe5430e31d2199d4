/**
 * Name resolution for outbound calls. The layer resolves names itself, judges every address, and then connects to
 * the address it judged; the resolver is a dependency so tests can answer from a real DNS server of their own.
 */
import { lookup, type Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';

/** One resolved address. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to every address it has now (an empty list: no address). */
export type DnsLookup = (hostname: string) => Promise<ResolvedAddress[]>;

/** The system resolver (getaddrinfo, so /etc/hosts too), every address in the order it gives them. */
export const systemLookup: DnsLookup = async (hostname) => {
  const all = await lookup(hostname, { all: true, verbatim: true });
  return all.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

const NO_ANSWER = new Set(['ENODATA', 'ENOTFOUND', 'ENONAME', 'NOTFOUND', 'NODATA']);

async function records(query: () => Promise<string[]>): Promise<string[]> {
  try {
    return await query();
  } catch (err) {
    // A name with only A or only AAAA records answers "no data" for the other family: not an error.
    if (NO_ANSWER.has((err as { code?: string }).code ?? '')) return [];
    throw err;
  }
}

/** A lookup over a `dns.promises.Resolver` (its own servers): A and AAAA records, IPv4 first. */
export function resolverLookup(resolver: Pick<Resolver, 'resolve4' | 'resolve6'>): DnsLookup {
  return async (hostname) => {
    const [v4, v6] = await Promise.all([
      records(() => resolver.resolve4(hostname)),
      records(() => resolver.resolve6(hostname)),
    ]);
    return [
      ...v4.map((address) => ({ address, family: 4 as const })),
      ...v6.map((address) => ({ address, family: 6 as const })),
    ];
  };
}

/** The addresses of a URL's host: the literal itself, or what the lookup answers. */
export async function addressesOf(hostname: string, dns: DnsLookup): Promise<ResolvedAddress[]> {
  const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  const family = isIP(bare);
  if (family !== 0) return [{ address: bare, family: family === 6 ? 6 : 4 }];
  return dns(bare);
}
