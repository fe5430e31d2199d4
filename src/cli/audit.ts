import { join } from 'node:path';
import { type Command, Option } from 'commander';
import {
  createAuditLog,
  readCheckpointFile,
  tailAuditEvents,
  trustedAuditKeys,
  verifyAuditTrail,
} from '../audit/index.js';
import { ocsfLines } from '../siem/index.js';
import { systemClock } from '../platform/index.js';
import { auditCheckpointFile, migrateDatabase } from '../server/index.js';
import { openStorage, type Storage } from '../storage/index.js';
import { configFrom, type GlobalOptions, withPlatform } from './context.js';

async function withStorage(opts: GlobalOptions, fn: (s: Storage, dataDir: string) => Promise<void>): Promise<void> {
  const config = configFrom(opts);
  const storage = await openStorage({
    url: config.database.url,
    schema: config.database.schema,
    dataDir: config.dataDir,
  });
  try {
    await migrateDatabase(storage.db, { schema: storage.schema });
    await fn(storage, config.dataDir);
  } finally {
    await storage.close();
  }
}

function registerList(audit: Command): void {
  audit
    .command('list')
    .description('List audit events, newest first, as JSON lines.')
    .option('--type <type>', 'exact event type, e.g. gateway.request.refused')
    .option('--type-prefix <prefix>', 'event type prefix, e.g. pki.')
    .addOption(new Option('--decision <d>', 'allow, deny or info').choices(['allow', 'deny', 'info']))
    .option('--object <id>', 'object id (device id, certificate serial, …)')
    .option('--limit <n>', 'how many', '50')
    .action(
      async (
        opts: {
          type?: string;
          typePrefix?: string;
          decision?: 'allow' | 'deny' | 'info';
          object?: string;
          limit: string;
        },
        cmd: Command,
      ) => {
        await withStorage(cmd.optsWithGlobals<GlobalOptions>(), async (storage) => {
          const events = await createAuditLog({ db: storage.db, clock: systemClock }).list({
            type: opts.type,
            typePrefix: opts.typePrefix,
            decision: opts.decision,
            objectId: opts.object,
            limit: Number(opts.limit),
          });
          for (const e of events) process.stdout.write(`${JSON.stringify(e)}\n`);
        });
      },
    );
}

function registerVerify(audit: Command): void {
  audit
    .command('verify')
    .description(
      'Check the audit trail against its signed checkpoints: recompute every leaf from the events, the tree and each ' +
        'signed root, check each signature with the pinned public key (<dataDir>/pki/audit-signing.pub.pem*, never ' +
        'the database), and compare the exported checkpoint file. Prints a JSON report naming the first event that ' +
        'was changed, removed, inserted or reordered; exits 1 when anything is wrong.',
    )
    .option('--checkpoints <file>', 'exported checkpoint file (default: audit.checkpointFile)')
    .option('--public-key <file...>', 'more trusted audit public keys (PEM)')
    .action(async (opts: { checkpoints?: string; publicKey?: string[] }, cmd: Command) => {
      const global = cmd.optsWithGlobals<GlobalOptions>();
      const file = opts.checkpoints ?? auditCheckpointFile(configFrom(global));
      await withStorage(global, async (storage, dataDir) => {
        const report = await verifyAuditTrail({
          db: storage.db,
          keys: trustedAuditKeys(join(dataDir, 'pki'), opts.publicKey ?? []),
          exported: readCheckpointFile(file),
        });
        process.stdout.write(`${JSON.stringify({ checkpointFile: file, ...report }, null, 2)}\n`);
        if (!report.ok) process.exitCode = 1;
      });
    });
}

function registerExport(audit: Command): void {
  audit
    .command('export')
    .description(
      'Print sealed audit events in tree order as OCSF 1.3 JSON lines (docs/ocsf.md), for a one-off SIEM load. ' +
        'Pass the last leaf you loaded as --after-leaf to continue; records carry it as metadata.sequence.',
    )
    .addOption(new Option('--format <format>', 'output schema').choices(['ocsf']).default('ocsf'))
    .option('--after-leaf <n>', 'start after this leaf index (-1: from the first event)', '-1')
    .option('--limit <n>', 'at most this many records', '1000000')
    .action(async (opts: { afterLeaf: string; limit: string }, cmd: Command) => {
      const afterLeaf = Number(opts.afterLeaf);
      const limit = Number(opts.limit);
      if (!Number.isInteger(afterLeaf) || afterLeaf < -1 || !Number.isInteger(limit) || limit < 1)
        throw new Error('--after-leaf must be an integer >= -1 and --limit a positive integer');
      await withStorage(cmd.optsWithGlobals<GlobalOptions>(), async (storage) => {
        const tail = (after: number, n: number) => tailAuditEvents(storage.db, after, n);
        for await (const line of ocsfLines(tail, { afterLeaf, limit })) process.stdout.write(`${line}\n`);
      });
    });
}

type HoldOptions = { fromSeq?: string; toSeq?: string; from?: string; to?: string; reason: string };
const cliActor = { actor: { type: 'system' as const, id: 'cli' }, context: null };
const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

function registerRetention(audit: Command): void {
  audit
    .command('prune')
    .description(
      'Remove audit events older than audit.retention.days, up to a signed checkpoint and never past a legal hold; ' +
        'keeps every checkpoint and the nodes proofs still need. Prints what was (or, --dry-run, would be) removed.',
    )
    .option('--dry-run', 'only report what would be removed')
    .action(async (opts: { dryRun?: boolean }, cmd: Command) => {
      await withPlatform(cmd.optsWithGlobals<GlobalOptions>(), async (p) => {
        print(await p.evidence.retention.prune({ dryRun: opts.dryRun === true, ...cliActor }));
      });
    });
  const hold = audit.command('hold').description('Legal holds: ranges of the audit trail that pruning keeps.');
  hold
    .command('add')
    .description('Hold a seq range (--from-seq, --to-seq) or a time window (--from, --to, ISO 8601); prints the hold.')
    .option('--from-seq <n>', 'first seq held')
    .option('--to-seq <n>', 'last seq held')
    .option('--from <time>', 'start of the held window')
    .option('--to <time>', 'end of the held window')
    .requiredOption('--reason <text>', 'why (a case or matter reference)')
    .action(async (o: HoldOptions, cmd: Command) => {
      const num = (v?: string) => (v === undefined ? undefined : Number(v));
      await withPlatform(cmd.optsWithGlobals<GlobalOptions>(), async (p) => {
        const range = { fromSeq: num(o.fromSeq), toSeq: num(o.toSeq), from: o.from, to: o.to, reason: o.reason };
        print(await p.evidence.holds.add(range, cliActor));
      });
    });
  hold
    .command('list')
    .description('List legal holds, released ones included, as JSON.')
    .action(async (_o: unknown, cmd: Command) => {
      await withPlatform(cmd.optsWithGlobals<GlobalOptions>(), async (p) => print(await p.evidence.holds.list()));
    });
  hold
    .command('release <id>')
    .description('Release a legal hold (audited); prints the released hold.')
    .requiredOption('--reason <text>', 'why it is released')
    .action(async (id: string, o: { reason: string }, cmd: Command) => {
      await withPlatform(cmd.optsWithGlobals<GlobalOptions>(), async (p) => {
        print(await p.evidence.holds.release(id, o.reason, cliActor));
      });
    });
}

/** `carapace audit …`: list, seal and sign, verify, prune, hold ranges and export the trail. */
export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('The audit trail and its evidence.');
  registerList(audit);
  audit
    .command('checkpoint')
    .description('Seal every committed audit event now and sign a checkpoint (also exported); prints it as JSON.')
    .action(async (_o: unknown, cmd: Command) => {
      await withPlatform(cmd.optsWithGlobals<GlobalOptions>(), async (p) => {
        process.stdout.write(`${JSON.stringify(await p.evidence.sealer.checkpoint(), null, 2)}\n`);
      });
    });
  registerVerify(audit);
  registerExport(audit);
  registerRetention(audit);
}
