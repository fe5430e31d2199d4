import { describe, expect, it } from 'vitest';
import { sourceOf } from './connection-guard.js';

describe('the source a per-address connection cap counts', () => {
  it('counts an IPv6 /64 as one source, so a host cannot rotate addresses in its own prefix past the cap', () => {
    // Before the fix each of these was a source of its own, each allowed maxConnectionsPerAddress connections.
    const hosts = ['2001:db8:1:2::1', '2001:db8:1:2::dead:beef', '2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:DB8:1:2::9'];
    expect(new Set(hosts.map(sourceOf))).toEqual(new Set(['2001:db8:1:2::/64']));
    expect(sourceOf('2001:db8:1:3::1')).not.toBe(sourceOf('2001:db8:1:2::1'));
  });

  it('keeps IPv4 sources apart, and an IPv4-mapped address counts as its IPv4 address', () => {
    expect(sourceOf('203.0.113.7')).toBe('203.0.113.7');
    expect(sourceOf('203.0.113.8')).not.toBe(sourceOf('203.0.113.7'));
    expect(sourceOf('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(sourceOf('?')).toBe('?');
  });
});
