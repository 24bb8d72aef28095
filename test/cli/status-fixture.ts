// A MemberStatus as a member with three peers in different states would report it.
import type { SessionCounters } from '../../src/dtls/index';
import type { MemberStatus } from '../../src/member/status';

function dtls(counters: Partial<SessionCounters>): SessionCounters {
  return { recordsIn: 0, recordsOut: 0, bytesIn: 0, bytesOut: 0, droppedReplay: 0, droppedAuth: 0, droppedMalformed: 0, retransmits: 0, ...counters };
}

export const STATUS_FIXTURE: MemberStatus = {
  network: 'office',
  vpnIp: '192.168.50.1',
  outsideAddress: '203.0.113.7:41234',
  tun: { name: 'tun0', mtu: 1200 },
  offloads: {
    tun: { enabled: ['csum', 'tso4', 'tso6', 'gro'], problem: 'the kernel refused USO (Linux 6.2 has it)' },
    udp: { enabled: ['sendmmsg', 'gso', 'recvmmsg', 'gro'], problem: '' },
  },
  drops: { no_route: 3, unknown_source: 0, bad_client_hello: 1 },
  handshakes: { completed: 4, failed: { psk_mismatch: 2, timeout: 1, refused: 0, closed: 0 } },
  dtls: dtls({ recordsIn: 1_207, recordsOut: 1_109, bytesIn: 1_573_564, bytesOut: 1_412, droppedAuth: 20_000, droppedReplay: 3, retransmits: 2 }),
  rolodexes: [
    { address: '198.51.100.2:6264', lastMapAgoMs: 3_200, reachable: true },
    { address: '198.51.100.9:6264', lastMapAgoMs: null, reachable: false },
  ],
  peers: [
    {
      vpnIp: '192.168.50.10',
      outsideAddress: '198.51.100.77:5000',
      endpoint: '198.51.100.77:5000',
      role: 'client',
      state: 'established',
      kind: 'original',
      cipherSuite: 'TLS_PSK_WITH_AES_128_CCM_8',
      sinceHandshakeMs: 3_723_000,
      sinceLastPacketMs: 850,
      packetsIn: 1200,
      packetsOut: 1100,
      bytesIn: 1_572_864,
      bytesOut: 512,
      drops: { spoofed_source: 5, not_established: 2, malformed: 0, send_failed: 0 },
      lastError: null,
      handshakes: { completed: 3, failed: { psk_mismatch: 0, timeout: 1, refused: 0, closed: 0 } },
      dtls: dtls({ recordsIn: 1_200, recordsOut: 1_100, bytesIn: 1_572_864, bytesOut: 512, droppedAuth: 20_000, droppedReplay: 3 }),
    },
    {
      vpnIp: '192.168.50.2',
      outsideAddress: '203.0.113.7:41999',
      endpoint: '10.1.0.6:41999',
      role: 'server',
      state: 'established',
      kind: 'meshboi',
      cipherSuite: 'TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256',
      sinceHandshakeMs: 42_000,
      sinceLastPacketMs: 1_500,
      packetsIn: 7,
      packetsOut: 9,
      bytesIn: 700,
      bytesOut: 900,
      drops: {},
      lastError: null,
      handshakes: { completed: 1, failed: { psk_mismatch: 0, timeout: 0, refused: 0, closed: 0 } },
      dtls: dtls({ recordsIn: 7, recordsOut: 9, bytesIn: 700, bytesOut: 900 }),
    },
    {
      vpnIp: null,
      outsideAddress: '192.0.2.44:6000',
      endpoint: '192.0.2.44:6000',
      role: 'client',
      state: 'handshaking',
      kind: 'unknown',
      cipherSuite: null,
      sinceHandshakeMs: null,
      sinceLastPacketMs: null,
      packetsIn: 0,
      packetsOut: 0,
      bytesIn: 0,
      bytesOut: 0,
      drops: {},
      lastError: 'handshake timed out after 6 tries; retrying in 8s',
      handshakes: { completed: 0, failed: { psk_mismatch: 2, timeout: 0, refused: 0, closed: 0 } },
      dtls: dtls({ retransmits: 2 }),
    },
  ],
};
