import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Cell, runMatrix } from '../authz-matrix/index.js';
import { loadConfig } from '../config/index.js';
import { createLogger } from '../platform/index.js';
import { DEMO_SCENARIO, readScenario, startCarapace } from '../server/index.js';

/** What one matrix run against one policy set found. */
export interface MatrixVerdict {
  unexpected: Cell[];
  /**
   * A state-changing step of the matrix (revoke, close, delegate, transfer) that the deployment refused: the policy
   * set no longer lets its rightful actor do it, which the matrix counts as a failure as surely as a wrong cell.
   */
  failedEvent?: string;
  phases: string[];
  cells: number;
}

/** Runs the public matrix against a policy directory: how a mutant is judged. */
export type MatrixJudge = (policyDir: string) => Promise<MatrixVerdict>;

async function loopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Starts a throwaway embedded deployment (SQLite in a temporary data directory, loopback ports, the demo seed,
 * detection off) on the given policy directory, runs the public authorization matrix against it, and removes it.
 * The server's clock is the wall clock plus what the matrix advanced, so the short delegation expires without a
 * sleep. The step-up window and people's token lifetime are an hour, so a slow run never outlives its sign-ins.
 * With `stopOnUnexpected` the matrix ends after the first phase that shows a wrong cell.
 */
export async function judgeWithMatrix(
  policyDir: string,
  options: { stopOnUnexpected?: boolean } = {},
): Promise<MatrixVerdict> {
  const dataDir = mkdtempSync(join(tmpdir(), 'carapace-mutant-'));
  let offset = 0;
  const clock = { now: () => new Date(Date.now() + offset) };
  try {
    const [publicPort, gatewayPort, adminPort] = [await loopbackPort(), await loopbackPort(), await loopbackPort()];
    const config = loadConfig({
      overrides: {
        dataDir,
        publicBaseUrl: `https://localhost:${publicPort}`,
        log: { level: 'silent' },
        seedDemo: true,
        detect: { enabled: false },
        // One matrix run can outlast the default step-up window (5 minutes) and token lifetime (10) on a loaded
        // machine; the transfer step then fails on the unmutated set. The widest windows keep every run judged.
        commands: { stepUpMaxAge: 3600 },
        auth: { userAccessTokenTtl: 3600 },
        policy: { dir: policyDir },
        database: { url: null },
        listeners: {
          public: { host: '127.0.0.1', port: publicPort },
          gateway: { host: '127.0.0.1', port: gatewayPort },
          admin: { host: '127.0.0.1', port: adminPort },
        },
      },
    });
    const running = await startCarapace(config, { log: createLogger('silent'), clock });
    try {
      const report = await runMatrix(
        readScenario(fileURLToPath(DEMO_SCENARIO)),
        {
          baseUrl: config.publicBaseUrl.replace(/\/$/, ''),
          ca: running.platform.pki.ctx.authorities.root.pem,
          partnerKeysDir: join(dataDir, 'demo'),
        },
        {
          clock: { now: () => clock.now().getTime(), advance: (ms) => void (offset += ms) },
          stopOnUnexpected: options.stopOnUnexpected ?? true,
        },
      ).catch((err: unknown) => {
        // Only the matrix's own refused steps are a verdict; anything else (a server that died) stays an error.
        if (err instanceof Error && err.message.startsWith('matrix event ')) return err.message.slice(0, 300);
        throw err;
      });
      if (typeof report === 'string') return { unexpected: [], phases: [], cells: 0, failedEvent: report };
      return {
        unexpected: report.cells.filter((c) => c.unexpected),
        phases: report.summary.phases,
        cells: report.summary.cells,
      };
    } finally {
      await running.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
