// The reference path: host A talks to host B over the link itself, no tunnel.
import { routeMtu, versionOf, type TunnelTool } from './vpn-tunnel';

export const bareLink: TunnelTool = {
  name: 'bare',
  needs: [],
  async up([client, server]) {
    return {
      serverAddress: server.address,
      mtu: await routeMtu(client, server.address),
      daemons: [],
      version: `Linux ${await versionOf(client, 'uname', ['-r'])}`,
    };
  },
};
