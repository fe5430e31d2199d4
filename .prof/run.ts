import "./sqltime.js";
import { join } from 'node:path';
import { runMatrix, summaryLine } from '../src/authz-matrix/index.js';
import { readScenario } from '../src/server/index.js';
import { startTestCarapace } from '../src/testing/index.js';
const t0 = Date.now();
const cp = await startTestCarapace({ database: 'sqlite', overrides: { seedDemo: true } });
const t1 = Date.now();
const report = await runMatrix(readScenario('scenarios/demo.yaml'),
  { baseUrl: cp.config.publicBaseUrl, ca: cp.ca, partnerKeysDir: join(cp.config.dataDir, 'demo') },
  { seededOnly: true, log: (l) => console.log(l, Date.now() - t1) });
console.log(summaryLine(report), 'start', t1 - t0, 'matrix', Date.now() - t1);
await cp.stop();
