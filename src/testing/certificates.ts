import { webcrypto } from 'node:crypto';
import { x509 } from '../platform/index.js';
import { newCertificateSerial } from '../platform/index.js';

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A key pair with its PKCS#8 PEM. */
export interface TestKey {
  pair: webcrypto.CryptoKeyPair;
  pem: string;
}

/** Generates a P-256 key. */
export async function testKey(): Promise<TestKey> {
  const pair = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  return {
    pair,
    pem: x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', pair.privateKey), 'PRIVATE KEY'),
  };
}

/** A self-signed CA that Carapace does not trust: the attacker's CA. */
export async function foreignCa(name = 'CN=Attacker Root'): Promise<{ cert: x509.X509Certificate; key: TestKey }> {
  const key = await testKey();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: newCertificateSerial(),
    name,
    keys: key.pair,
    signingAlgorithm: EC,
    notBefore: new Date(Date.now() - 3600_000),
    notAfter: new Date(Date.now() + 86400_000),
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
    ],
  });
  return { cert, key };
}

/** Signs a client leaf with any issuer key, outside Carapace's issuance records (a forgery or a foreign cert). */
export async function signLeaf(args: {
  issuer: x509.X509Certificate;
  issuerKey: webcrypto.CryptoKey;
  subjectKey: TestKey;
  uris?: string[];
  subject?: string;
  notBefore?: Date;
  notAfter?: Date;
  serverAuthOnly?: boolean;
}): Promise<string> {
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: newCertificateSerial(),
    subject: args.subject ?? 'CN=forged',
    issuer: args.issuer.subject,
    notBefore: args.notBefore ?? new Date(Date.now() - 60_000),
    notAfter: args.notAfter ?? new Date(Date.now() + 3600_000),
    publicKey: args.subjectKey.pair.publicKey,
    signingKey: args.issuerKey,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.ExtendedKeyUsageExtension([
        args.serverAuthOnly ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
      ]),
      ...(args.uris
        ? [new x509.SubjectAlternativeNameExtension(args.uris.map((u) => ({ type: 'url' as const, value: u })))]
        : []),
    ],
  });
  return cert.toString('pem');
}

/** A CA certificate (optionally under a parent CA), as an operator would bring for `carapace pki import`. */
export async function caCertificate(args: {
  name: string;
  parent?: { cert: x509.X509Certificate; key: TestKey };
  pathLength?: number;
}): Promise<{ cert: x509.X509Certificate; key: TestKey }> {
  const key = await testKey();
  const issuer = args.parent ?? { cert: null, key };
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: newCertificateSerial(),
    subject: args.name,
    issuer: args.parent ? args.parent.cert.subject : args.name,
    notBefore: new Date(Date.now() - 3600_000),
    notAfter: new Date(Date.now() + 365 * 86400_000),
    publicKey: key.pair.publicKey,
    signingKey: issuer.key.pair.privateKey,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(true, args.pathLength ?? 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(key.pair.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.key.pair.publicKey),
    ],
  });
  return { cert, key };
}

/** A leaf for a TLS server or client, signed by a CA key, with DNS/IP names or URIs. */
export async function leafCertificate(args: {
  issuer: { cert: x509.X509Certificate; key: TestKey };
  subject: string;
  server?: string[];
  clientAuth?: boolean;
}): Promise<{ pem: string; key: TestKey }> {
  const key = await testKey();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: newCertificateSerial(),
    subject: args.subject,
    issuer: args.issuer.cert.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 30 * 86400_000),
    publicKey: key.pair.publicKey,
    signingKey: args.issuer.key.pair.privateKey,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.ExtendedKeyUsageExtension([
        args.server ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(args.issuer.key.pair.publicKey),
      ...(args.server
        ? [
            new x509.SubjectAlternativeNameExtension(
              args.server.map((h) => ({ type: /^[\d.]+$/.test(h) ? ('ip' as const) : ('dns' as const), value: h })),
            ),
          ]
        : []),
    ],
  });
  return { pem: cert.toString('pem'), key };
}
