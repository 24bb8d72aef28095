// The command line of names and layers: --vpn-ip twice (one per family, IPv4 first), default names
// from host names, the DNS zone of a network, resolver domains, and the forwarding check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import winston from 'winston';
import { CliConfigError, inAnyVpn, parseVpnIps } from '../../cmd/member-config';
import { resolverDomains } from '../../cmd/member-names';
import { checkForwarding } from '../../cmd/member-routes';
import { nameFromHostname, zoneOf } from '../../src/member/names';
import { LogCapture } from '../member/harness';

test('two --vpn-ip of different families make a dual-stack member, IPv4 first', () => {
  const vpns = parseVpnIps(['fd00:50::1/64', '192.168.50.1/24']);
  assert.deepEqual(vpns.map((vpn) => vpn.cidr), ['192.168.50.1/24', 'fd00:50::1/64']);
  assert.ok(inAnyVpn(vpns).contains('fd00:50::9') && inAnyVpn(vpns).contains('192.168.50.9') && !inAnyVpn(vpns).contains('10.0.0.1'));
  assert.throws(() => parseVpnIps(['192.168.50.1/24', '10.9.0.1/16']), (error: unknown) => error instanceof CliConfigError && /one IPv4 and one IPv6 address/.test(error.message));
  assert.throws(() => parseVpnIps(['192.168.50.1/24', 'fd00::1/64', 'fd01::1/64']), /given 3 times/);
});

test('a default name comes from the host name\'s first label, made a DNS label', () => {
  assert.equal(nameFromHostname('Desk.example.org'), 'desk');
  assert.equal(nameFromHostname('my_laptop'), 'my-laptop');
  assert.equal(nameFromHostname('--'), null);
  assert.equal(nameFromHostname('x'.repeat(70)), 'x'.repeat(63));
});

test('the zone is NETWORK.meshboi, and a network name that is no DNS name turns names off with the reason', () => {
  assert.deepEqual(zoneOf('Home'), ['home', 'meshboi']);
  assert.deepEqual(zoneOf('corp.lan'), ['corp', 'lan', 'meshboi']);
  assert.match(String(zoneOf('my network')), /not usable in DNS names/);
  const vpns = parseVpnIps(['192.168.50.1/24', 'fd00:50::1/64']);
  assert.deepEqual(resolverDomains('home.meshboi', vpns), ['home.meshboi', '50.168.192.in-addr.arpa', '0.0.0.0.0.0.0.0.0.5.0.0.0.0.d.f.ip6.arpa']);
});

test('advertising routes with forwarding off warns with the fix', () => {
  const capture = new LogCapture();
  const log = winston.createLogger({ transports: [capture] });
  checkForwarding(['10.1.0.0/24', 'fd01::/64'], log, (path) => (path.includes('ipv4') ? '0\n' : '1\n'));
  assert.deepEqual(capture.lines.map((line) => line.fix), ['sysctl -w net.ipv4.ip_forward=1']);
});
