// Scripts written for the original (`meshboi client -network x -vpn-ip=...`) keep working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { translateGoStyleFlags } from '../../cmd/member';

const LONG = ['--network', '--psk', '--vpn-ip', '--rolodex-address', '--rolodex-port', '--tun-name', '--tun-mtu'];

test('single-dash long flags of the original become double-dash ones', () => {
  assert.deepEqual(
    translateGoStyleFlags(['-network', 'home', '-vpn-ip=192.168.50.1/24', '-rolodex-address', 'r.example', '--tun-name', 'tun0'], LONG),
    ['--network', 'home', '--vpn-ip=192.168.50.1/24', '--rolodex-address', 'r.example', '--tun-name', 'tun0'],
  );
});

test('unknown names, short flags, values and anything after -- are left alone', () => {
  assert.deepEqual(
    translateGoStyleFlags(['-h', '-unknown', '-network', '-psk', '--', '-network'], LONG),
    ['-h', '-unknown', '--network', '--psk', '--', '-network'],
  );
});
