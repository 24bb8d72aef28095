// `meshboi status` renders a MemberStatus as a summary, a rolodex table and a peer table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAgo, formatBytes, formatDrops, renderStatus } from '../../src/control/status-table';
import { STATUS_FIXTURE } from './status-fixture';

test('the status table shows every column for every peer, sorted by VPN IP, with names, second addresses, routes, the LAN endpoint when one is used, DTLS drops and handshakes', () => {
  const expected = [
    'network office  vpn-ip 192.168.50.1,fd00:6d62::1  name desk.office.meshboi  outside 203.0.113.7:41234  tun tun0 (mtu 1200)',
    'offloads: tun csum tso4 tso6 gro (missing: the kernel refused USO (Linux 6.2 has it)); udp sendmmsg gso recvmmsg gro',
    'native path: 2 sessions; in 1150 packets (1.4MiB) to tun, 50 opened for JavaScript, dropped replay=1; out 900 records sent, 0 refused',
    'drops not charged to a peer: no_route=3,bad_client_hello=1',
    'DTLS records: 1207 in, 1109 out, dropped auth=20000,replay=3, 2 flights retransmitted',
    'handshakes: 4 ok, failed psk_mismatch=2,timeout=1',
    '',
    'rolodexes (2):',
    '  ADDRESS            LAST MAP  REACHABLE',
    '  198.51.100.2:6264  3s ago    yes',
    '  198.51.100.9:6264  never     no',
    '',
    'peers (3, 2 established):',
    '  VPN IP                     NAME                   ROUTES       OUTSIDE                               ROLE    STATE        PATH    MTU   KIND      HANDSHAKE  LAST PACKET  PACKETS IN/OUT  BYTES IN/OUT  DROPS                               DTLS DROPS           HANDSHAKES                   LAST ERROR',
    '  192.168.50.2,fd00:6d62::2  laptop.office.meshboi  10.1.0.0/24  203.0.113.7:41999 via 10.1.0.6:41999  server  established  direct  1395  meshboi   42s ago    1s ago       7/9             700B/900B     -                                   -                    1 ok                         -',
    '  192.168.50.10              -                      -            198.51.100.77:5000                    client  established  direct  -     original  1h02m ago  850ms ago    1200/1100       1.5MiB/512B   spoofed_source=5,not_established=2  auth=20000,replay=3  3 ok, failed timeout=1       -',
    '  ?                          -                      -            192.0.2.44:6000                       client  handshaking  -       -     unknown   never      never        0/0             0B/0B         -                                   -                    0 ok, failed psk_mismatch=2  handshake timed out after 6 tries; retrying in 8s',
    '',
  ];
  assert.equal(renderStatus(STATUS_FIXTURE), expected.join('\n'));
});

test('a relayed peer shows its relay and why it is not direct; a relay shows what it forwards', () => {
  const relayed = { ...STATUS_FIXTURE.peers[1], path: 'relay' as const, relay: '192.168.50.9', notDirect: 'no answer to our ClientHello' };
  const text = renderStatus({
    ...STATUS_FIXTURE,
    peers: [relayed],
    relay: { pairs: 2, packets: 40, bytes: 4096, refused: { over_budget: 1, too_many_pairs: 0, no_route: 0 }, forwarding: [{ from: '203.0.113.1:1', to: '203.0.113.2:2', packets: 40, bytes: 4096 }] },
  });
  assert.match(text, /established {2}relay 192\.168\.50\.9 .* not direct: no answer to our ClientHello\n/);
  assert.match(text, /relaying for 2 pairs: 40 packets, 4\.0KiB; refused over_budget=1\n {2}FROM +TO +PACKETS +BYTES\n {2}203\.0\.113\.1:1 +203\.0\.113\.2:2 +40 +4\.0KiB\n/);
});

test('a member without peers or a map yet says so', () => {
  const text = renderStatus({ ...STATUS_FIXTURE, outsideAddress: null, peers: [], drops: {} });
  assert.match(text, /outside unknown \(no map yet\)/);
  assert.match(text, /drops not charged to a peer: -/);
  const plain = renderStatus({ ...STATUS_FIXTURE, offloads: { tun: null, udp: { enabled: [], problem: 'no addon' } } });
  assert.match(plain, /^offloads: tun none; udp none \(missing: no addon\)$/m);
  const off = renderStatus({ ...STATUS_FIXTURE, nativePath: { enabled: false, problem: 'no addon', receive: null, send: null, sendProblem: '' } });
  assert.match(off, /^native path: off \(no addon\)$/m);
  const noGso = renderStatus({ ...STATUS_FIXTURE, nativePath: { ...STATUS_FIXTURE.nativePath!, sendProblem: 'UDP GSO is off (EIO)' } });
  assert.match(noGso, /^native path: .*, 0 refused \(missing: UDP GSO is off \(EIO\)\)$/m);
  assert.match(text, /peers \(0, 0 established\):\n  none yet/);
});

test('durations, sizes and drop counters are short and readable', () => {
  assert.deepEqual(
    [null, 0, 999, 1_000, 59_999, 60_000, 305_000, 7_500_000, 273_600_000].map(formatAgo),
    ['never', '0ms ago', '999ms ago', '1s ago', '59s ago', '1m00s ago', '5m05s ago', '2h05m ago', '3d04h ago'],
  );
  assert.deepEqual([0, 1023, 1024, 1536, 5 * 1024 ** 3].map(formatBytes), ['0B', '1023B', '1.0KiB', '1.5KiB', '5.0GiB']);
  assert.equal(formatDrops({ a: 0 }), '-');
  assert.equal(formatDrops({ auth: 1, spoof: 1, replay: 9 }), 'replay=9,auth=1,spoof=1');
});
