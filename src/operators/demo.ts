import type { Directory } from '../identity/index.js';
import type { OperatorDirectory } from './store.js';
import { OPERATOR_ROLES, type OperatorRole } from './tables.js';

/** The demo's operators: one per role, with public credentials (development only; README "Operators and roles"). */
export const DEMO_OPERATORS: ReadonlyArray<{ role: OperatorRole; email: string; password: string; totp: string }> =
  OPERATOR_ROLES.map((role) => ({
    role,
    email: `${role.replace('_', '-')}@operators.demo`,
    password: `demo-${role.replace('_', '-')}-password`,
    totp: 'JBSWY3DPEHPK3PXPOPERATOR',
  }));

// argon2id of each demo password, computed once: the demo is seeded by most test files, and four hashes cost
// about 100 ms a start. The passwords are public; test/operators.e2e.test.ts signs in with one.
const DEMO_HASHES: Record<OperatorRole, string> = {
  viewer: '$argon2id$v=19$m=19456,t=2,p=1$h95rhhVxC+GSBFrOkvnorw$QWiD15/dOWIZe3LR9clHeFE47+WtH0bgNAzsICWnxu0',
  responder: '$argon2id$v=19$m=19456,t=2,p=1$S0di/SamOI3gdU8xXfahtg$9u07L8QUw/euSD2NdvWIssSmcRyG3NQHFQ4E36V9MBs',
  pki_officer: '$argon2id$v=19$m=19456,t=2,p=1$j6C/bnPlrEEoPtKyaqd0Ew$7Q7EWB+1UYJFcQ6E8n5O/XHVhssFfGLDibcgzJqZYy8',
  security_admin: '$argon2id$v=19$m=19456,t=2,p=1$DKAM8/wDSeodUtTO7gnfrg$G1WQQn9s4ihWChZz6JY2VjtfciMmG7CmXpkZ0a+vuvg',
};

/** Creates the demo operators (accounts with password and TOTP, then operators); called only when seeding the demo. */
export async function seedDemoOperators(deps: {
  directory: Pick<Directory, 'createUser'>;
  operators: Pick<OperatorDirectory, 'add'>;
}): Promise<void> {
  for (const o of DEMO_OPERATORS) {
    const user = await deps.directory.createUser(
      { type: 'system', id: 'seed' },
      {
        email: o.email,
        displayName: `Demo ${o.role}`,
        password: o.password,
        passwordHash: DEMO_HASHES[o.role],
        totpSecret: o.totp,
      },
    );
    await deps.operators.add(
      { type: 'system', id: null },
      { name: o.email.split('@')[0]!, kind: 'person', ref: user.id, roles: [o.role] },
    );
  }
}
