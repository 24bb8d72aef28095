// The reference path: host A talks to host B over the link itself, no tunnel.
import { interfaceMtu, routeDevice, versionOf, type TunnelTool } from './vpn-tunnel';

export const bareLink: TunnelTool = {
  name: 'bare',
  needs: [],
  async up([client, server]) {
    const device = await routeDevice(client, server.address);
    return {
      serverAddress: server.address,
      device,
      mtu: await interfaceMtu(client, device),
      daemons: [],
      version: `Linux ${await versionOf(client, 'uname', ['-r'])}`,
    };
  },
};
