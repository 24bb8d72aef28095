// wireguard-go (userspace WireGuard, no kernel module here): one foreground wireguard-go per
// host, keys from `wg genkey`, configured with `wg set` and `ip`, at wireguard-go's default MTU.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { interfaceMtu, versionOf, waitForCommand, waitForPath, type TunnelTool } from './vpn-tunnel';

const LISTEN_PORT = 51820;
const OVERLAY = ['172.30.1.1', '172.30.1.2'] as const;

export const wireguardGo: TunnelTool = {
  name: 'wireguard-go',
  needs: [
    { tool: 'wireguard-go', debianPackage: 'wireguard-go' },
    { tool: 'wg', debianPackage: 'wireguard-tools' },
  ],
  async up(pair, workDir) {
    const [client] = pair;
    // wireguard-go's control socket is /var/run/wireguard/<device>.sock on the shared filesystem,
    // so the two devices need names distinct from each other and from any other run's.
    const ends = await Promise.all(
      pair.map(async (host, index) => {
        const privateKey = (await host.mustExec('wg', ['genkey'])).trim();
        const keyFile = path.join(workDir, `wg-${index}.key`);
        await writeFile(keyFile, `${privateKey}\n`, { mode: 0o600 });
        return {
          host,
          device: `wgb${process.pid.toString(36)}${'ab'[index]}`,
          keyFile,
          publicKey: (await host.mustExec('wg', ['pubkey'], { input: `${privateKey}\n` })).trim(),
          overlay: OVERLAY[index] as string,
        };
      }),
    );
    const daemons = ends.map(({ host, device }) =>
      host.spawn('wireguard-go', [device], { env: { ...process.env, WG_PROCESS_FOREGROUND: '1' } }),
    );
    for (const [index, end] of ends.entries()) {
      const peer = ends[1 - index]!;
      await waitForCommand(end.host, ['wg', 'show', end.device], daemons[index]!);
      await end.host.mustExec('wg', [
        'set', end.device, 'private-key', end.keyFile, 'listen-port', String(LISTEN_PORT),
        'peer', peer.publicKey, 'allowed-ips', `${peer.overlay}/32`, 'endpoint', `${peer.host.address}:${LISTEN_PORT}`,
      ]);
      await end.host.mustExec('ip', ['address', 'add', `${end.overlay}/24`, 'dev', end.device]);
      await end.host.mustExec('ip', ['link', 'set', end.device, 'up']);
    }
    await waitForPath(client, OVERLAY[1], ends[0]!.device, daemons);
    return {
      serverAddress: OVERLAY[1],
      device: ends[0]!.device,
      mtu: await interfaceMtu(client, ends[0]!.device),
      daemons,
      version: await versionOf(client, 'wireguard-go', ['--version']),
    };
  },
};
