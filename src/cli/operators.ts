import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { findActiveUserByEmail, newTotpSecret } from '../identity/index.js';
import { CarapaceError } from '../platform/index.js';
import { OPERATOR_ROLES, type OperatorRecord } from '../operators/index.js';
import { type GlobalOptions, withPlatform } from './context.js';

const ACTOR = { type: 'system' as const, id: `cli:${process.env.USER ?? 'unknown'}` };
const roleOption = () =>
  new Option('--role <role...>', 'operator role(s)').choices([...OPERATOR_ROLES]).makeOptionMandatory();
const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

/** One line per operator: name, kind, roles, state. */
export function formatOperators(list: OperatorRecord[]): string {
  return list
    .map(
      (o) =>
        `${o.name.padEnd(24)} ${o.kind.padEnd(11)} ${o.roles.join(',').padEnd(40)} ` +
        `${o.disabled ? 'disabled' : 'active'}\n`,
    )
    .join('');
}

/**
 * The person behind a new operator: an existing account, or (with --new-user) one created with the password read
 * from --password-file (never a command-line argument, which other users can see) and a fresh TOTP secret, printed
 * once for the authenticator app.
 */
async function personFor(
  p: Parameters<Parameters<typeof withPlatform>[1]>[0],
  o: { email: string; newUser?: boolean; displayName?: string; passwordFile?: string },
): Promise<{ userId: string; totpSecret: string | null }> {
  const existing = await findActiveUserByEmail(p.storage.db, o.email);
  if (existing) return { userId: existing.id, totpSecret: null };
  if (!o.newUser)
    throw new CarapaceError('ERR_NOT_FOUND', `no active account ${o.email}; pass --new-user to create it`);
  if (!o.passwordFile) throw new CarapaceError('ERR_VALIDATION', 'give --password-file for the new account');
  const password = readFileSync(o.passwordFile, 'utf8').split('\n')[0] ?? '';
  const totpSecret = newTotpSecret();
  const user = await p.directory.createUser(
    { type: 'system', id: 'seed' },
    { email: o.email, displayName: o.displayName ?? o.email, password, totpSecret },
  );
  return { userId: user.id, totpSecret };
}

/** `carapace operators add|list|grant|revoke|disable`: the people who sign in to the admin plane, and their roles. */
export function registerOperators(program: Command): void {
  const cmd = program
    .command('operators')
    .description('Admin-plane operators and their roles (viewer, responder, pki_officer, security_admin).');
  const globals = (c: Command) => c.optsWithGlobals<GlobalOptions>();

  cmd
    .command('add')
    .argument('<name>', 'operator name (shown in the audit trail)')
    .requiredOption('--email <email>', "the person's account (password + TOTP) at the embedded authorization server")
    .addOption(roleOption())
    .option('--new-user', 'create the account (password from --password-file, a new TOTP secret)')
    .option('--password-file <file>', "the new account's password (first line)")
    .option('--display-name <name>', 'display name of a new account')
    .action(
      async (
        name: string,
        o: { email: string; role: string[]; newUser?: boolean; displayName?: string; passwordFile?: string },
        c: Command,
      ) => {
        await withPlatform(globals(c), async (p) => {
          const person = await personFor(p, o);
          const op = await p.operators.directory.add(ACTOR, {
            name,
            kind: 'person',
            ref: person.userId,
            roles: o.role,
          });
          print({ ...op, ...(person.totpSecret ? { totpSecret: person.totpSecret } : {}) });
        });
      },
    );
  cmd
    .command('list')
    .description('Every operator: people and certificates, their roles and state.')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }, c: Command) => {
      await withPlatform(globals(c), async (p) => {
        const list = await p.operators.directory.list();
        if (o.json) print(list);
        else process.stdout.write(formatOperators(list));
      });
    });
  for (const [verb, what] of [
    ['grant', 'Add roles to a person.'],
    ['revoke', 'Remove roles from a person (the last one stays: disable instead).'],
  ] as const) {
    cmd
      .command(verb)
      .description(what)
      .argument('<name>', 'operator name')
      .addOption(roleOption())
      .action(async (name: string, o: { role: string[] }, c: Command) => {
        await withPlatform(globals(c), async (p) => {
          await p.operators.directory[verb](ACTOR, name, o.role);
          print(await p.operators.directory.find('name', name));
        });
      });
  }
  cmd
    .command('disable')
    .description('Disable an operator: its sessions end at once and its certificate stops being accepted.')
    .argument('<name>', 'operator name')
    .action(async (name: string, _o: unknown, c: Command) => {
      await withPlatform(globals(c), async (p) => {
        await p.operators.directory.disable(ACTOR, name);
        print(await p.operators.directory.find('name', name));
      });
    });
}
