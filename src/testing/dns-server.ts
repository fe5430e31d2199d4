import { Resolver } from 'node:dns/promises';
import { createSocket as udpSocket, type RemoteInfo } from 'node:dgram';
import { isIPv4 } from 'node:net';
import ipaddr from 'ipaddr.js';

/** What the test DNS server answers for a name and record type: addresses, or null for "no such name". */
export type DnsAnswers = (name: string, type: 'A' | 'AAAA') => string[] | null;

/** A real DNS server on 127.0.0.1 (UDP, an ephemeral port), answering A and AAAA queries as a test decides. */
export interface TestDnsServer {
  /** `127.0.0.1:<port>`, for `Resolver.setServers`. */
  address: string;
  /** A resolver that asks only this server. */
  resolver(): Resolver;
  /** Queries received so far, as `A name` / `AAAA name`. */
  queries: string[];
  close(): Promise<void>;
}

const TYPES: Record<number, 'A' | 'AAAA'> = { 1: 'A', 28: 'AAAA' };

/** Reads the question's name (uncompressed labels, as resolvers send them) and where the question ends. */
function question(msg: Buffer): { name: string; end: number } {
  const labels: string[] = [];
  let at = 12;
  while (msg[at]! > 0) {
    labels.push(msg.subarray(at + 1, at + 1 + msg[at]!).toString('ascii'));
    at += msg[at]! + 1;
  }
  return { name: labels.join('.').toLowerCase(), end: at + 5 };
}

/** One answer record: a pointer to the question's name, the type, class IN, TTL 0 (nothing cached), the address. */
function record(type: 'A' | 'AAAA', address: string): Buffer {
  const data = Buffer.from(ipaddr.parse(address).toByteArray());
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0);
  head.writeUInt16BE(type === 'A' ? 1 : 28, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt32BE(0, 6);
  head.writeUInt16BE(data.length, 10);
  return Buffer.concat([head, data]);
}

function answer(msg: Buffer, answers: DnsAnswers, queries: string[]): Buffer {
  const { name, end } = question(msg);
  const type = TYPES[msg.readUInt16BE(end - 4)];
  const found = type ? answers(name, type) : [];
  if (type) queries.push(`${type} ${name}`);
  const records = (found ?? []).filter((a) => (type === 'A') === isIPv4(a)).map((a) => record(type!, a));
  const head = Buffer.alloc(12);
  msg.copy(head, 0, 0, 2);
  // QR + RD + RA; rcode 3 (NXDOMAIN) when the name does not exist.
  head.writeUInt16BE(found === null ? 0x8183 : 0x8180, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(records.length, 6);
  return Buffer.concat([head, msg.subarray(12, end), ...records]);
}

/** Starts the server; `answers` is asked on every query, so a test can change its answer between two of them. */
export async function startDnsServer(answers: DnsAnswers): Promise<TestDnsServer> {
  const socket = udpSocket('udp4');
  const queries: string[] = [];
  socket.on('message', (msg: Buffer, from: RemoteInfo) => {
    try {
      socket.send(answer(msg, answers, queries), from.port, from.address);
    } catch {
      // A malformed query gets no answer, as from a real server that drops it.
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const address = `127.0.0.1:${socket.address().port}`;
  return {
    address,
    queries,
    resolver() {
      const r = new Resolver({ timeout: 2000, tries: 2 });
      r.setServers([address]);
      return r;
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
