// The extension rules both hellos share: Extended Master Secret is required, renegotiation_info
// must be empty on a first handshake, and the meshboi marker says whether the peer is one of ours.
import type { Role } from '../api';
import { AlertDescription } from '../alert';
import { decodeMeshboi, decodeRenegotiationInfo, ExtensionType, findExtension, type Extension } from '../handshake/extensions';
import { handshakeFailure, type HandshakeFailure } from './context';

/** `sender` is the role of the peer whose hello carried `extensions`. */
export function checkHelloExtensions(extensions: readonly Extension[], sender: Role): HandshakeFailure | null {
  if (!findExtension(extensions, ExtensionType.extended_master_secret)) {
    const what = sender === 'client' ? 'the client does not offer' : 'the server did not agree to';
    return handshakeFailure(AlertDescription.handshake_failure, `${what} Extended Master Secret (RFC 7627), which we require; upgrade the peer`);
  }
  const renegotiation = findExtension(extensions, ExtensionType.renegotiation_info);
  if (renegotiation) {
    const info = decodeRenegotiationInfo(renegotiation.data);
    if (!info.ok || info.value.length !== 0) {
      return handshakeFailure(AlertDescription.handshake_failure, `the ${sender} sent a non-empty renegotiation_info on a first handshake (RFC 5746 3.4)`);
    }
  }
  return null;
}

export function carriesMeshboiMarker(extensions: readonly Extension[]): boolean {
  const meshboi = findExtension(extensions, ExtensionType.meshboi);
  return meshboi !== undefined && decodeMeshboi(meshboi.data).ok;
}
