import type { Command } from 'commander';
import { type AdminOptions, adminClient } from './incidents.js';

interface DeliveryJson {
  id: string;
  subscriptionId: string;
  eventType: string;
  state: string;
  attempts: number;
  lastError: string | null;
  withheldReason: string | null;
}

/** One line per delivery. */
export function formatDeliveries(list: DeliveryJson[]): string {
  return list
    .map(
      (d) =>
        `${d.id}  ${d.state.padEnd(9)} ${String(d.attempts).padStart(3)}  ${d.eventType.padEnd(26)} ` +
        `${d.subscriptionId}  ${d.withheldReason ?? d.lastError ?? ''}\n`,
    )
    .join('');
}

/** `carapace webhooks ...`: the delivery queue on the admin plane (dead letters, replay, worker state, keys). */
export function registerWebhooks(program: Command): void {
  const cmd = program
    .command('webhooks')
    .description('Webhook deliveries over the admin API (operator certificate; defaults from the config).')
    .option('--admin-url <url>', 'the admin listener (default: from listeners.admin)')
    .option('--ca <file>', 'the root CA (default <dataDir>/pki/ca.pem)')
    .option('--cert <file>', 'operator certificate (default <dataDir>/pki/operator/admin-cert.pem)')
    .option('--key <file>', 'operator key (default <dataDir>/pki/operator/admin-key.pem)')
    .option('--json', 'print the API answer as JSON');
  const opts = (c: Command) => c.optsWithGlobals<AdminOptions & { json?: boolean; state?: string }>();
  const print = (json: boolean | undefined, answer: Record<string, unknown>, text: () => string) =>
    process.stdout.write(json ? `${JSON.stringify(answer, null, 2)}\n` : text());

  cmd
    .command('deliveries')
    .description('List deliveries, newest first (e.g. --state dead for the dead letters).')
    .option('--state <state>', 'pending, delivered, dead or withheld')
    .action(async (_o: unknown, c: Command) => {
      const o = opts(c);
      const r = await adminClient(o)('GET', `/admin/v1/webhooks/deliveries${o.state ? `?state=${o.state}` : ''}`);
      print(o.json, r, () => formatDeliveries(r.deliveries as DeliveryJson[]));
    });
  cmd
    .command('replay')
    .argument('<ids...>', 'dead-lettered delivery ids (msg_...)')
    .description('Put dead-lettered deliveries back in the queue: same webhook-id, fresh attempts.')
    .action(async (ids: string[], _o: unknown, c: Command) => {
      const o = opts(c);
      const r = await adminClient(o)('POST', '/admin/v1/webhooks/deliveries/replay', { ids });
      print(o.json, r, () => formatDeliveries(r.replayed as DeliveryJson[]));
    });
  cmd
    .command('status')
    .description("The delivery worker's budget use and counters on the node answering.")
    .action(async (_o: unknown, c: Command) => {
      const o = opts(c);
      const r = await adminClient(o)('GET', '/admin/v1/webhooks/status');
      print(
        o.json,
        r,
        () =>
          `${Object.entries(r)
            .map(([k, v]) => `${k}: ${String(v)}`)
            .join('\n')}\n`,
      );
    });
  cmd
    .command('rotate-key')
    .description('Rotate the Ed25519 signing key; the old one stays published for webhooks.keyOverlap.')
    .action(async (_o: unknown, c: Command) => {
      const o = opts(c);
      const r = await adminClient(o)('POST', '/admin/v1/webhooks/keys/rotate');
      const keys = r.keys as { kid: string; status: string; publicKey: string }[];
      print(o.json, r, () => keys.map((k) => `${k.kid}  ${k.status.padEnd(7)} ${k.publicKey}\n`).join(''));
    });
}
