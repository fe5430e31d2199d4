import { X509Certificate as NodeX509, type webcrypto } from 'node:crypto';
import { x509 } from '../platform/index.js';
import type { Kysely } from 'kysely';
import type { Clock } from '../platform/index.js';
import { CarapaceError } from '../platform/index.js';
import { newCertificateSerial } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { PkiAuditLog } from './audit-events.js';
import { CA_KEY_ALGORITHM, type KeyProvider } from './key-provider.js';
import { caExtensions } from './profiles.js';
import type { CaRole } from './tables.js';

/** A CA certificate, in both library forms, and its signing key when we hold it. */
export interface CertificateAuthority {
  readonly role: CaRole;
  readonly certificate: x509.X509Certificate;
  readonly node: NodeX509;
  readonly pem: string;
  readonly signingKey: webcrypto.CryptoKey | null;
}

/** The three CAs: our root, our fleet issuing CA, and the manufacturer's CA for factory certificates. */
export interface Authorities {
  readonly root: CertificateAuthority;
  readonly fleet: CertificateAuthority;
  readonly manufacturer: CertificateAuthority;
}

const YEAR = 365 * 86400_000;
const DEV_CA = {
  root: { name: 'CN=Carapace Development Root CA, O=Carapace', years: 10, pathLength: 1 },
  fleet: { name: 'CN=Carapace Development Fleet Issuing CA, O=Carapace', years: 5, pathLength: 0 },
  manufacturer: {
    name: 'CN=Carapace Development Manufacturer CA, O=Carapace Development Manufacturer',
    years: 15,
    pathLength: 0,
  },
} as const;

function keyRef(role: CaRole): string {
  return `${role}-ca`;
}

async function toAuthority(
  role: CaRole,
  pem: string,
  signingKey: webcrypto.CryptoKey | null,
): Promise<CertificateAuthority> {
  return { role, certificate: new x509.X509Certificate(pem), node: new NodeX509(pem), pem, signingKey };
}

/** Loads whatever CAs are stored, with their keys where the key provider holds them. */
export async function loadAuthorities(
  db: Kysely<Database>,
  keys: KeyProvider,
): Promise<Partial<Record<CaRole, CertificateAuthority>>> {
  const rows = await db.selectFrom('certificate_authorities').selectAll().execute();
  const out: Partial<Record<CaRole, CertificateAuthority>> = {};
  for (const row of rows) {
    out[row.role] = await toAuthority(row.role, row.cert_pem, row.key_ref ? await keys.privateKey(row.key_ref) : null);
  }
  return out;
}

async function generateCa(
  role: CaRole,
  keys: KeyProvider,
  clock: Clock,
  parent: CertificateAuthority | null,
): Promise<{ pem: string }> {
  const spec = DEV_CA[role];
  const pair = await keys.generate(keyRef(role));
  const now = clock.now();
  const notBefore = new Date(now.getTime() - 5 * 60_000);
  const notAfter = new Date(now.getTime() + spec.years * YEAR);
  if (!parent) {
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: newCertificateSerial(),
        subject: spec.name,
        issuer: spec.name,
        notBefore,
        notAfter,
        publicKey: pair.publicKey,
        signingKey: pair.privateKey,
        signingAlgorithm: CA_KEY_ALGORITHM,
        extensions: await caExtensions(pair.publicKey, spec.pathLength, pair.publicKey, keys.crypto),
      },
      keys.crypto,
    );
    return { pem: cert.toString('pem') };
  }
  if (!parent.signingKey)
    throw new CarapaceError(
      'ERR_PKI_CA_MISSING',
      `cannot issue the ${role} CA: the ${parent.role} CA key is not available`,
    );
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: newCertificateSerial(),
      subject: spec.name,
      issuer: parent.certificate.subject,
      notBefore,
      notAfter: notAfter < parent.certificate.notAfter ? notAfter : parent.certificate.notAfter,
      publicKey: pair.publicKey,
      signingKey: parent.signingKey,
      signingAlgorithm: CA_KEY_ALGORITHM,
      extensions: await caExtensions(pair.publicKey, spec.pathLength, parent.certificate.publicKey, keys.crypto),
    },
    keys.crypto,
  );
  return { pem: cert.toString('pem') };
}

/** Dependencies shared by the CA operations. */
export interface AuthorityDeps {
  db: Kysely<Database>;
  keys: KeyProvider;
  clock: Clock;
  audit: PkiAuditLog;
}

async function storeCa(
  deps: AuthorityDeps,
  role: CaRole,
  pem: string,
  hasKey: boolean,
  imported: boolean,
): Promise<void> {
  const cert = new x509.X509Certificate(pem);
  await deps.db.transaction().execute(async (trx) => {
    await trx
      .insertInto('certificate_authorities')
      .values({
        role,
        cert_pem: pem,
        key_ref: hasKey ? keyRef(role) : null,
        imported: imported ? 1 : 0,
        created_at: deps.clock.now().toISOString(),
      })
      .execute();
    await deps.audit.append(trx, {
      type: imported ? 'pki.ca.imported' : 'pki.ca.generated',
      actor: { type: imported ? 'operator' : 'system' },
      object: { type: 'certificate_authority', id: role },
      action: imported ? 'import' : 'generate',
      decision: 'info',
      details: {
        role,
        subject: cert.subject,
        serial: cert.serialNumber,
        notAfter: cert.notAfter.toISOString(),
        signingKeyHeld: hasKey,
      },
    });
  });
}

/**
 * Returns all three CAs. In development, missing CAs are generated (root first, then the fleet CA under it,
 * and a separate manufacturer CA). In production, a missing CA is an error: operators import them.
 */
export async function ensureAuthorities(deps: AuthorityDeps & { allowGenerate: boolean }): Promise<Authorities> {
  let cas = await loadAuthorities(deps.db, deps.keys);
  for (const role of ['root', 'fleet', 'manufacturer'] as const) {
    if (cas[role]) continue;
    if (!deps.allowGenerate) {
      throw new CarapaceError(
        'ERR_PKI_CA_MISSING',
        `no ${role} CA is configured; production mode never generates one. Import it with \`carapace pki import --role ${role} --cert <pem> [--key <pem>]\``,
        { role },
      );
    }
    const parent = role === 'fleet' ? (cas.root ?? null) : null;
    const { pem } = await generateCa(role, deps.keys, deps.clock, parent);
    await storeCa(deps, role, pem, true, false);
    cas = await loadAuthorities(deps.db, deps.keys);
  }
  const { root, fleet, manufacturer } = cas;
  if (!root || !fleet || !manufacturer) throw new CarapaceError('ERR_PKI_CA_MISSING', 'CA set is incomplete');
  return { root, fleet, manufacturer };
}

/** Imports an operator-supplied CA certificate (and optionally its key) after checking it is usable. */
export async function importAuthority(
  deps: AuthorityDeps,
  role: CaRole,
  certPem: string,
  keyPem: string | null,
): Promise<CertificateAuthority> {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(certPem);
  } catch (cause) {
    throw new CarapaceError(
      'ERR_PKI_CA_INVALID',
      'the certificate is not a valid PEM X.509 certificate',
      { role },
      { cause },
    );
  }
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  if (!bc?.ca)
    throw new CarapaceError('ERR_PKI_CA_INVALID', 'the certificate is not a CA (basicConstraints cA is not set)', {
      role,
    });
  const existing = await loadAuthorities(deps.db, deps.keys);
  if (existing[role])
    throw new CarapaceError(
      'ERR_CONFLICT',
      `a ${role} CA already exists; CA replacement is a planned re-keying, not an import`,
      { role },
    );
  if (role === 'fleet') {
    const root = existing.root;
    if (!root) throw new CarapaceError('ERR_PKI_CA_INVALID', 'import the root CA before the fleet CA', { role });
    if (!(await cert.verify({ publicKey: root.certificate.publicKey, signatureOnly: true }))) {
      throw new CarapaceError('ERR_PKI_CA_INVALID', 'the fleet CA is not signed by the stored root CA', { role });
    }
  }
  if (keyPem) {
    // Check the pair in memory before the key provider stores anything.
    const subtle = deps.keys.crypto.subtle;
    const key = await subtle
      .importKey('pkcs8', x509.PemConverter.decodeFirst(keyPem), CA_KEY_ALGORITHM, false, ['sign'])
      .catch((cause: unknown) => {
        throw new CarapaceError('ERR_PKI_CA_INVALID', 'the private key is not a PKCS#8 P-256 key', { role }, { cause });
      });
    const probe = new Uint8Array([1, 2, 3]);
    const sig = await subtle.sign(CA_KEY_ALGORITHM, key, probe);
    const pub = await cert.publicKey.export(CA_KEY_ALGORITHM, ['verify'], deps.keys.crypto);
    if (!(await subtle.verify(CA_KEY_ALGORITHM, pub, sig, probe))) {
      throw new CarapaceError('ERR_PKI_CA_INVALID', 'the private key does not match the certificate', { role });
    }
    await deps.keys.importPkcs8(keyRef(role), keyPem);
  }
  await storeCa(deps, role, cert.toString('pem'), keyPem !== null, true);
  return toAuthority(role, cert.toString('pem'), keyPem ? await deps.keys.privateKey(keyRef(role)) : null);
}
