import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { consistencyProof, inclusionPath, leafHash, MerkleFrontier, rootOf } from './merkle.js';
import { verifyConsistency, verifyInclusion } from '../../test/merkle-verifier.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const sha = (...parts: Uint8Array[]) => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest();

// The Certificate Transparency reference tree (RFC 6962 test data): entries, roots for sizes 0..8, proofs.
const ENTRIES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const LEAVES = ENTRIES.map((e) => leafHash(Buffer.from(e, 'hex')));

describe('RFC 6962 Merkle tree', () => {
  it('hashes leaves and nodes with the 0x00 and 0x01 prefixes', () => {
    expect(hex(leafHash(Buffer.from('ab')))).toBe(hex(sha(Buffer.of(0), Buffer.from('ab'))));
    expect(hex(rootOf(LEAVES.slice(0, 2)))).toBe(hex(sha(Buffer.of(1), LEAVES[0]!, LEAVES[1]!)));
  });

  it('matches the reference roots for every size 0..8, recursively and through the frontier', () => {
    const frontier = new MerkleFrontier();
    expect(hex(frontier.root())).toBe(ROOTS[0]);
    for (let n = 1; n <= 8; n++) {
      frontier.push(LEAVES[n - 1]!);
      expect(hex(rootOf(LEAVES.slice(0, n)))).toBe(ROOTS[n]);
      expect(hex(frontier.root())).toBe(ROOTS[n]);
    }
  });

  it('produces the reference inclusion and consistency proofs', () => {
    expect(inclusionPath(LEAVES, 0).map(hex)).toEqual([
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ]);
    expect(inclusionPath(LEAVES, 5).map(hex)).toEqual([
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ]);
    expect(consistencyProof(LEAVES, 2).map(hex)).toEqual([
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ]);
    expect(consistencyProof(LEAVES, 6).map(hex)).toEqual([
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ]);
  });

  // Every shape of the recursion, checked by the independent RFC 9162 verifier; a flipped bit never verifies.
  const many = Array.from({ length: 40 }, (_, i) => leafHash(Buffer.of(i, i * 7)));
  const roots = Array.from({ length: 41 }, (_, n) => rootOf(many.slice(0, n)));

  it('every inclusion proof of every tree size verifies independently, and a tampered one does not', () => {
    for (let n = 1; n <= 40; n++) {
      for (let m = 0; m < n; m++) {
        const path = inclusionPath(many.slice(0, n), m);
        expect(verifyInclusion(many[m]!, m, n, path, roots[n]!)).toBe(true);
        expect(verifyInclusion(many[(m + 1) % 40]!, m, n, path, roots[n]!)).toBe(false);
        if (path.length > 0) {
          const bad = path.map((p) => Buffer.from(p));
          bad[0]![0]! ^= 1;
          expect(verifyInclusion(many[m]!, m, n, bad, roots[n]!)).toBe(false);
        }
      }
    }
  });

  it('every consistency proof between two sizes verifies independently, and a tampered one does not', () => {
    for (let n = 1; n <= 40; n++) {
      for (let m = 1; m <= n; m++) {
        const proof = consistencyProof(many.slice(0, n), m);
        expect(verifyConsistency(m, n, roots[m]!, roots[n]!, proof)).toBe(true);
        if (proof.length > 0) {
          const bad = proof.map((p) => Buffer.from(p));
          bad[bad.length - 1]![5]! ^= 1;
          expect(verifyConsistency(m, n, roots[m]!, roots[n]!, bad)).toBe(false);
        }
        if (m > 1 && m < n) expect(verifyConsistency(m, n, roots[m - 1]!, roots[n]!, proof)).toBe(false);
      }
    }
  });
});
