import { randomBytes } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Writes a secret (a private key) readable by the owner only. It goes to a new file created 0600 and is then
 * renamed over the target, so it never inherits the mode of a file that already stood there.
 */
export function writePrivateFile(path: string, data: string): void {
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
  writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
  renameSync(tmp, path);
}
