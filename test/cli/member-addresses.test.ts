// --vpn-ip and --rolodex-address are checked with messages that say what to type instead, and our
// LAN endpoints for the same-NAT extension leave out loopback, link-local and VPN addresses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type os from 'node:os';
import {
  bindAddressFor,
  CliConfigError,
  computeLocalEndpoints,
  parseRolodexAddress,
  parseVpnIp,
  resolveRolodexes,
  type LookupAll,
} from '../../cmd/member-config';

test('an IPv4 --vpn-ip with prefix gives the address, prefix and CIDR', () => {
  const vpn = parseVpnIp('192.168.50.1/24');
  assert.deepEqual([vpn.text, vpn.prefixLength, vpn.family, vpn.cidr], ['192.168.50.1', 24, 4, '192.168.50.1/24']);
  assert.equal(vpn.contains('192.168.50.200'), true);
  assert.equal(vpn.contains('192.168.51.1'), false);
  assert.equal(vpn.contains('fd00::1'), false);
});

test('an IPv6 --vpn-ip is accepted and written in canonical form', () => {
  const vpn = parseVpnIp('FD00:6d62:0::0001/64');
  assert.deepEqual([vpn.text, vpn.prefixLength, vpn.family, vpn.cidr], ['fd00:6d62::1', 64, 6, 'fd00:6d62::1/64']);
  assert.equal(vpn.contains('fd00:6d62::99'), true);
  assert.equal(vpn.contains('192.168.50.1'), false);
});

test('bad --vpn-ip values say what is wrong and show an example', () => {
  const cases: Array<[string, RegExp]> = [
    ['192.168.50.1', /the prefix length is missing/],
    ['192.168.50.300/24', /not an IPv4 address with prefix/],
    ['192.168.050.1/24', /leading zeroes/],
    ['192.168.50.1/33', /not an IPv4 address with prefix/],
    ['192.168.50.1/32', /a \/32 leaves no room for other members/],
    ['fd00::1/128', /a \/128 leaves no room/],
    ['10.0.0.1/4', /far too much/],
    ['192.168.50.0/24', /network address/],
    ['192.168.50.255/24', /broadcast address/],
    ['127.0.0.5/8', /loopback/],
    ['224.1.1.1/24', /multicast/],
    ['fe80::1/64', /link-local/],
    ['fe80::1%eth0/64', /zone index/],
    ['hello/24', /not an IPv4 address/],
    ['fd00::zz/64', /not an IPv6 address/],
  ];
  for (const [text, why] of cases) {
    assert.throws(
      () => parseVpnIp(text),
      (error: Error) => error instanceof CliConfigError && why.test(error.message) && /e\.g\. --vpn-ip 192\.168\.50\.1\/24/.test(error.message),
      text,
    );
  }
});

test('rolodex addresses: names, IPv4 and bracketed IPv6, with or without port', () => {
  const parse = (text: string) => {
    const { host, port } = parseRolodexAddress(text, 6264);
    return `${host} ${port}`;
  };
  assert.equal(parse('rolodex.example'), 'rolodex.example 6264');
  assert.equal(parse('rolodex.example:7000'), 'rolodex.example 7000');
  assert.equal(parse('203.0.113.7'), '203.0.113.7 6264');
  assert.equal(parse('203.0.113.7:1'), '203.0.113.7 1');
  assert.equal(parse('[2001:db8::1]:5000'), '2001:db8::1 5000');
  assert.equal(parse('[2001:db8::1]'), '2001:db8::1 6264');
  assert.equal(parse('2001:db8::1'), '2001:db8::1 6264');
  assert.equal(parseRolodexAddress('localhost', 9999).port, 9999);
});

test('bad rolodex addresses are refused with the accepted forms', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /it is empty/],
    ['host:0', /port 0 is not from 1 to 65535/],
    ['host:65536', /port 65536 is not from 1 to 65535/],
    ['host:http', /port "http" is not a number/],
    [':6264', /the host is missing/],
    ['[2001:db8::1', /closing "\]"/],
    ['[2001:db8::1]x', /closing "\]"/],
    ['[not-v6]:5', /not an IPv6 address/],
    ['2001:db8::1:5000:7:8:9:10', /not an IPv6 address/],
    ['bad host', /not a host name or IP address/],
  ];
  for (const [text, why] of cases) {
    assert.throws(
      () => parseRolodexAddress(text, 6264),
      (error: Error) => error instanceof CliConfigError && why.test(error.message) && /HOST:PORT/.test(error.message),
      text,
    );
  }
});

const fakeLookup =
  (table: Record<string, Array<{ address: string; family: number }> | string>): LookupAll =>
  async (host) => {
    const answer = table[host];
    if (typeof answer === 'string' || answer === undefined) {
      throw Object.assign(new Error(`getaddrinfo ${answer ?? 'ENOTFOUND'} ${host}`), { code: answer ?? 'ENOTFOUND' });
    }
    return answer;
  };

test('rolodex names resolve, preferring IPv4, and literals skip the lookup', async () => {
  const lookup = fakeLookup({
    'dual.example': [{ address: '2001:db8::7', family: 6 }, { address: '198.51.100.7', family: 4 }],
  });
  const endpoints = await resolveRolodexes(
    [parseRolodexAddress('dual.example'), parseRolodexAddress('203.0.113.1:7000'), parseRolodexAddress('203.0.113.1:7000')],
    lookup,
  );
  assert.deepEqual(endpoints, [
    { address: '198.51.100.7', port: 6264 },
    { address: '203.0.113.1', port: 7000 },
  ]);
  assert.equal(bindAddressFor(endpoints), '0.0.0.0');
  assert.equal(bindAddressFor([{ address: '2001:db8::1', port: 1 }]), '::');
});

test('an unresolvable rolodex names it and says what to check', async () => {
  const lookup = fakeLookup({ 'slow.example': 'EAI_AGAIN' });
  await assert.rejects(
    resolveRolodexes([parseRolodexAddress('nosuch.example:7000')], lookup),
    /cannot resolve rolodex address "nosuch\.example:7000": no such name \(ENOTFOUND\); check the name, or give the rolodex's IP address/,
  );
  await assert.rejects(resolveRolodexes([parseRolodexAddress('slow.example')], lookup), /name server did not answer/);
});

test('no rolodex, or rolodexes of two families, are refused', async () => {
  await assert.rejects(resolveRolodexes([]), /no rolodex given: name at least one with --rolodex-address/);
  await assert.rejects(
    resolveRolodexes([parseRolodexAddress('203.0.113.1'), parseRolodexAddress('[2001:db8::1]')]),
    /mix IPv4 and IPv6/,
  );
});

test('local endpoints: LAN addresses of the socket family with our port, never loopback, link-local or VPN', () => {
  const info = (address: string, family: 'IPv4' | 'IPv6', internal = false) =>
    ({ address, family, internal, netmask: '', mac: '00:00:00:00:00:00', cidr: null }) as os.NetworkInterfaceInfo;
  const interfaces = {
    lo: [info('127.0.0.1', 'IPv4', true), info('::1', 'IPv6', true)],
    eth0: [info('10.1.0.5', 'IPv4'), info('fe80::1', 'IPv6'), info('2001:db8::5', 'IPv6')],
    tun: [info('192.168.50.1', 'IPv4')],
    wlan0: [info('10.1.0.5', 'IPv4'), info('172.16.3.4', 'IPv4')],
  };
  const vpn = parseVpnIp('192.168.50.1/24');
  assert.deepEqual(computeLocalEndpoints(41234, { family: 4, vpn, interfaces }), [
    { address: '10.1.0.5', port: 41234 },
    { address: '172.16.3.4', port: 41234 },
  ]);
  assert.deepEqual(computeLocalEndpoints(41234, { family: 6, vpn, interfaces }), [{ address: '2001:db8::5', port: 41234 }]);
});
