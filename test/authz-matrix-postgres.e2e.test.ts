import { describe, it } from 'vitest';
import { testEngines } from '../src/testing/index.js';
import { matrixSuite } from './authz-matrix-support.js';

// The PostgreSQL half of the matrix, in its own file so a second vitest worker runs it beside the SQLite one.
if (testEngines().includes('postgres')) matrixSuite('postgres');
else describe.skip('authorization matrix on PostgreSQL (DATABASE_URL is not set)', () => it('needs PostgreSQL'));
