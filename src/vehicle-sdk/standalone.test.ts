import { cruise } from 'dependency-cruiser';
import { describe, expect, it } from 'vitest';

// What integrators ship in a vehicle must not pull the server: its HTTP framework, storage, authorization
// server, policy engine or cluster client. The wire contracts it shares with the server live in src/wire/.
const SERVER_PACKAGES =
  /(^|\/)node_modules\/(fastify|@fastify|kysely|pg|better-sqlite3|oidc-provider|@cedar-policy|ioredis)\//;
const SERVER_MODULES =
  /^src\/(server|gateway|http|policy|auth|identity|pki|telemetry|commands|relationships|audit|storage)\//;

describe('the vehicle SDK stands alone', () => {
  it('imports neither server packages nor server modules, and shares its contracts through src/wire', async () => {
    const result = await cruise(['src/vehicle-sdk/index.ts', 'src/simulator/index.ts'], {
      doNotFollow: { path: 'node_modules' },
      tsPreCompilationDeps: true,
      tsConfig: { fileName: 'tsconfig.check.json' },
    });
    const output = result.output as { modules: Array<{ source: string }> };
    const reached = output.modules.map((m) => m.source);
    expect(reached).toContain('src/wire/index.ts');
    expect(reached.filter((m) => SERVER_PACKAGES.test(m) || SERVER_MODULES.test(m))).toEqual([]);
  });
});
