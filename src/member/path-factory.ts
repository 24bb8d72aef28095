// The DTLS session behind each path a member opens, client or server: our credentials (in a blind
// network the server's hint sealed and the peer's opened), the handshake timings, and a client's
// flights bounded, until the peer answers, by the budget for endpoints that never answered.
import type { Clock } from '../clock';
import { DtlsSession, type CipherSuiteId, type CloseReason, type HandshakeInfo, type Role } from '../dtls/index';
import type { DatagramTransport, Endpoint } from '../net/transport';
import type { BlindNetwork } from './blind-network';
import { Path, type Peer } from './peer';
import type { UnansweredBudget } from './unanswered-budget';
import type { VpnAddress } from './vpn-address';

export interface Credentials {
  psk: Buffer;
  vpn: VpnAddress;
  cipherSuites?: readonly CipherSuiteId[];
  announceMeshboi?: boolean;
  /** A blind network: our server's identity hint is our VPN IP sealed, and a server's hint must open. */
  blind?: BlindNetwork | null;
}

/** What the sessions of our paths report; PeerSessions acts on it. */
export interface PathEvents {
  handshakeComplete(path: Path, info: HandshakeInfo): void;
  data(path: Path, plaintext: Buffer): void;
  closed(path: Path, reason: CloseReason): void;
}

export interface HandshakeTimings {
  /** DTLS flight retransmission: first timeout, and tries before a handshake fails. */
  handshakeRetransmitMs: number;
  handshakeMaxTries: number;
}

/** The identity of a server whose hint did not open: resolveRace refuses it, saying so. */
const UNSEALED_HINT = 'a hint not sealed for this blind network (is the peer run without --blind?)';

export class PathFactory {
  constructor(
    private readonly transport: DatagramTransport,
    private readonly credentials: Credentials,
    private readonly timings: HandshakeTimings,
    private readonly clock: Clock,
    private readonly events: PathEvents,
    private readonly unanswered: UnansweredBudget,
  ) {}

  /** A path toward `remote` with a fresh session in `role`; the caller lists it in the stores. */
  create(remote: Endpoint, role: Role, peer: Peer | null): Path {
    const { psk, vpn, cipherSuites, announceMeshboi, blind } = this.credentials;
    const { transport, events, unanswered } = this;
    const session = new DtlsSession(
      {
        role,
        psk,
        identity: blind && role === 'server' ? blind.sealHint(vpn.text) : vpn.text,
        cipherSuites,
        announceMeshboi,
        // A server path answers a ClientHello whose cookie proved its source; a client's flights
        // are bounded until the peer has sent anything back.
        send: (datagram) => {
          if (role === 'client' && path.fed === 0 && !unanswered.take(remote.address, datagram.length)) return;
          transport.send(datagram, remote.port, remote.address);
        },
        retransmitInitialMs: this.timings.handshakeRetransmitMs,
        retransmitMaxTries: this.timings.handshakeMaxTries,
        clock: this.clock,
      },
      {
        onHandshakeComplete: (info) =>
          events.handshakeComplete(path, blind && role === 'client' ? { ...info, peerIdentity: blind.openHint(info.peerIdentity) ?? UNSEALED_HINT } : info),
        onData: (plaintext) => events.data(path, plaintext),
        onClose: (reason) => events.closed(path, reason),
      },
    );
    const path: Path = new Path(remote, role, session, peer, this.clock.now());
    return path;
  }
}
