/**
 * The outbound layer's settings as it uses them: the destination rules (with development-only and test-only
 * parts refused in production mode) and the CA certificates trusted for TLS.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { Config } from '../config/index.js';
import { CarapaceError } from '../platform/index.js';
import { parseCidrs } from './address-policy.js';
import type { DestinationRules } from './destination.js';

function cidrs(list: readonly string[], key: string) {
  try {
    return parseCidrs(list);
  } catch {
    throw new CarapaceError('ERR_CONFIG_INVALID', `${key} holds something that is not a CIDR`, { key });
  }
}

/** The destination rules from `outbound.*`; throws ERR_CONFIG_INVALID for what production mode refuses. */
export function destinationRules(
  s: Config['outbound'],
  mode: 'development' | 'production',
  testPublicCidrs: readonly string[],
): DestinationRules {
  if (mode === 'production' && s.allowLoopbackHttp)
    throw new CarapaceError('ERR_CONFIG_INVALID', 'outbound.allowLoopbackHttp is refused in production mode', {
      key: 'outbound.allowLoopbackHttp',
    });
  if (mode === 'production' && testPublicCidrs.length > 0)
    throw new CarapaceError('ERR_CONFIG_INVALID', 'test-only public CIDRs are refused in production mode', {
      key: 'outbound',
    });
  return {
    loopbackHttp: s.allowLoopbackHttp,
    siemAllowed: cidrs(s.siem.allowPrivateCidrs, 'outbound.siem.allowPrivateCidrs'),
    federationAllowed: cidrs(s.federation.allowPrivateCidrs, 'outbound.federation.allowPrivateCidrs'),
    otlpAllowed: cidrs(s.otlp.allowPrivateCidrs, 'outbound.otlp.allowPrivateCidrs'),
    otlpLoopbackHttp: s.otlp.allowLoopbackHttp,
    testPublic: cidrs(testPublicCidrs, 'outbound (test-only public CIDRs)'),
  };
}

/** Node's roots plus `outbound.trustedCaFile` and injected CAs, or undefined (Node's roots) when there are none. */
export function trustedCas(s: Config['outbound'], injected: readonly string[]): string[] | undefined {
  const extra = [...injected];
  if (s.trustedCaFile) {
    try {
      extra.push(readFileSync(s.trustedCaFile, 'utf8'));
    } catch {
      throw new CarapaceError('ERR_CONFIG_INVALID', 'outbound.trustedCaFile cannot be read', {
        key: 'outbound.trustedCaFile',
      });
    }
  }
  // Node's `ca` replaces its roots: they are passed along so that the configured CAs add to them.
  return extra.length ? [...rootCertificates, ...extra] : undefined;
}
