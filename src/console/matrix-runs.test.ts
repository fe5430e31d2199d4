import { describe, expect, it } from 'vitest';
import { CarapaceError } from '../platform/index.js';
import { parseMatrixTargets } from './matrix-runs.js';

describe('matrix targets from the configuration', () => {
  it('reads name=https://host:port entries, keeping only the origin', () => {
    expect(parseMatrixTargets(['staging=https://staging.example:8443/', 'eu-2=https://10.0.0.5'])).toEqual([
      { name: 'staging', url: 'https://staging.example:8443' },
      { name: 'eu-2', url: 'https://10.0.0.5' },
    ]);
  });

  it('refuses an entry that is not https, carries credentials, or has no valid name, so nothing else is probed', () => {
    for (const entry of [
      'staging=http://staging.example',
      'staging=https://user:pw@staging.example',
      'https://staging.example',
      'Staging=https://staging.example',
      'staging=https://',
      'staging=file:///etc/passwd',
    ]) {
      let error: unknown = null;
      try {
        parseMatrixTargets([entry]);
      } catch (e) {
        error = e;
      }
      expect(error, entry).toBeInstanceOf(CarapaceError);
      expect((error as CarapaceError).code, entry).toBe('ERR_CONFIG_INVALID');
    }
  });
});
