import { Type } from '@sinclair/typebox';
import { Binary, type RouteRegistrar } from '../http/index.js';
import type { CatalogEntry } from '../http/index.js';
import { CarapaceError } from '../platform/index.js';
import type { Pki } from './pki.js';

const PUBLIC = {
  owner: 'pki',
  callers: ['anonymous'],
  classification: 'public',
  scopes: [],
  safetyImpact: 'none',
  status: 'stable',
} as const;
const CRL_ENTRY: CatalogEntry = {
  ...PUBLIC,
  purpose: 'Certificate revocation list of one of our CAs (DER, RFC 5280).',
  action: 'pki:read_crl',
};
const CA_ENTRY: CatalogEntry = {
  ...PUBLIC,
  purpose: 'Trust bundle: the root CA and the fleet issuing CA (PEM).',
  action: 'pki:read_ca',
};

/** Publishes the CRLs and the CA bundle on a listener (the public API, where relying parties can reach them). */
export function registerCrlRoutes<Spec>(routes: RouteRegistrar<Spec>, deps: { pki: Pki }): void {
  routes.get(
    '/pki/crl/:file',
    {
      auth: { kind: 'anonymous' },
      catalog: CRL_ENTRY,
      schema: {
        response: {
          200: { content: { 'application/pkix-crl': { schema: Binary } } },
        },
        params: Type.Object(
          { file: Type.Union([Type.Literal('root.crl'), Type.Literal('fleet.crl'), Type.Literal('manufacturer.crl')]) },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const role = req.params.file.replace('.crl', '') as 'root' | 'fleet' | 'manufacturer';
      if (!deps.pki.ctx.authorities[role].signingKey)
        throw new CarapaceError('ERR_NOT_FOUND', 'this CA publishes its CRL elsewhere');
      const der = await deps.pki.crl(role);
      return reply.type('application/pkix-crl').header('cache-control', 'public, max-age=60').send(Buffer.from(der));
    },
  );

  const pem = { content: { 'application/x-pem-file': { schema: Type.String() } } };
  routes.get(
    '/pki/ca.pem',
    { auth: { kind: 'anonymous' }, catalog: CA_ENTRY, schema: { response: { 200: pem } } },
    async (_req, reply) => {
      const { root, fleet } = deps.pki.ctx.authorities;
      return reply
        .type('application/x-pem-file')
        .header('cache-control', 'public, max-age=300')
        .send(`${fleet.pem.trim()}\n${root.pem.trim()}\n`);
    },
  );
}
