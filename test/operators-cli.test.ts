import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildProgram } from '../src/cli/index.js';

// In-process (a spawned CLI costs seconds per command): this file's worker owns its environment.
const dataDir = mkdtempSync(join(tmpdir(), 'carapace-operators-cli-'));
const saved = { ...process.env };

async function carapace(...args: string[]): Promise<string> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    await buildProgram({ writeOut: () => undefined, writeErr: () => undefined }).parseAsync([
      'node',
      'carapace',
      ...args,
    ]);
  } finally {
    spy.mockRestore();
  }
  return out;
}

beforeAll(() => {
  writeFileSync(join(dataDir, 'password'), 'a long enough passphrase\n', { mode: 0o600 });
  Object.assign(process.env, {
    CARAPACE_DATA_DIR: dataDir,
    CARAPACE_LOG_LEVEL: 'silent',
    DATABASE_URL: '',
    REDIS_URL: '',
  });
});
afterAll(() => {
  process.env = saved;
  rmSync(dataDir, { recursive: true, force: true });
});

describe('carapace operators', () => {
  it('adds a person with a new account, grants, revokes, lists and disables', async () => {
    const added = JSON.parse(
      await carapace(
        'operators',
        'add',
        'rita',
        '--email',
        'rita@example.com',
        '--role',
        'responder',
        '--new-user',
        '--password-file',
        join(dataDir, 'password'),
      ),
    ) as { name: string; kind: string; roles: string[]; totpSecret: string };
    expect(added).toMatchObject({ name: 'rita', kind: 'person', roles: ['responder'], disabled: false });
    expect(added.totpSecret).toMatch(/^[A-Z2-7]{32}$/);
    const granted = JSON.parse(await carapace('operators', 'grant', 'rita', '--role', 'pki_officer')) as {
      roles: string[];
    };
    expect(granted.roles).toEqual(['pki_officer', 'responder']);
    // A role that does not exist, or removing the last one, is refused.
    await expect(carapace('operators', 'grant', 'rita', '--role', 'root')).rejects.toMatchObject({
      code: 'commander.invalidArgument',
    });
    await carapace('operators', 'revoke', 'rita', '--role', 'responder');
    await expect(carapace('operators', 'revoke', 'rita', '--role', 'pki_officer')).rejects.toMatchObject({
      code: 'ERR_CONFLICT',
    });
    // An account that does not exist is not created without --new-user.
    await expect(
      carapace('operators', 'add', 'x', '--email', 'x@example.com', '--role', 'viewer'),
    ).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
    });
    await carapace('operators', 'disable', 'rita');
    expect(await carapace('operators', 'list')).toMatch(/^rita\s+person\s+pki_officer\s+disabled$/m);
  });

  it('issues an operator certificate bound to the role given', async () => {
    const issued = JSON.parse(
      await carapace('pki', 'operator-cert', '--name', 'ci-bot', '--role', 'viewer', '--out', join(dataDir, 'certs')),
    ) as { role: string; serial: string };
    expect(issued.role).toBe('viewer');
    const list = JSON.parse(await carapace('operators', 'list', '--json')) as Array<{ name: string; roles: string[] }>;
    expect(list.find((o) => o.name === 'ci-bot')).toMatchObject({
      kind: 'certificate',
      certificateSerial: issued.serial,
      roles: ['viewer'],
    });
  });
});
