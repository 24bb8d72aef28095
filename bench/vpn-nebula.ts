// Nebula (Debian's 1.6.1): a throwaway CA and two host certificates from `nebula-cert`, each host
// finding the other through static_host_map (no lighthouse needed on one link), default MTU.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { interfaceMtu, versionOf, waitForPath, type TunnelTool } from './vpn-tunnel';

const LISTEN_PORT = 4242;
const OVERLAY = ['172.30.2.1', '172.30.2.2'] as const;
const DEVICE = 'nebula1';

function config(file: (name: string) => string, index: number, peerOverlay: string, peerUnderlay: string): string {
  // JSON strings are valid YAML scalars, so paths and addresses need no further quoting.
  const quoted = (name: string): string => JSON.stringify(file(name));
  return [
    'pki:',
    `  ca: ${quoted('nebula-ca.crt')}`,
    `  cert: ${quoted(`nebula-${index}.crt`)}`,
    `  key: ${quoted(`nebula-${index}.key`)}`,
    'static_host_map:',
    `  ${JSON.stringify(peerOverlay)}: [${JSON.stringify(`${peerUnderlay}:${LISTEN_PORT}`)}]`,
    'lighthouse:',
    '  am_lighthouse: false',
    '  hosts: []',
    'listen:',
    '  host: 0.0.0.0',
    `  port: ${LISTEN_PORT}`,
    'punchy:',
    '  punch: false',
    'tun:',
    `  dev: ${DEVICE}`,
    'logging:',
    '  level: warning',
    'firewall:',
    '  outbound:',
    '    - { port: any, proto: any, host: any }',
    '  inbound:',
    '    - { port: any, proto: any, host: any }',
    '',
  ].join('\n');
}

export const nebula: TunnelTool = {
  name: 'nebula',
  needs: [
    { tool: 'nebula', debianPackage: 'nebula' },
    { tool: 'nebula-cert', debianPackage: 'nebula' },
  ],
  async up(pair, workDir) {
    const file = (name: string): string => path.join(workDir, name);
    const [client] = pair;
    await client.mustExec('nebula-cert', ['ca', '-name', 'meshboi-bench', '-out-crt', file('nebula-ca.crt'), '-out-key', file('nebula-ca.key')]);
    const daemons = [];
    for (const [index, host] of pair.entries()) {
      await client.mustExec('nebula-cert', [
        'sign', '-ca-crt', file('nebula-ca.crt'), '-ca-key', file('nebula-ca.key'), '-name', `host-${index}`,
        '-ip', `${OVERLAY[index]}/24`, '-out-crt', file(`nebula-${index}.crt`), '-out-key', file(`nebula-${index}.key`),
      ]);
      const other = 1 - index;
      await writeFile(file(`nebula-${index}.yml`), config(file, index, OVERLAY[other] as string, pair[other]!.address));
      daemons.push(host.spawn('nebula', ['-config', file(`nebula-${index}.yml`)]));
    }
    await waitForPath(client, OVERLAY[1], DEVICE, daemons);
    return {
      serverAddress: OVERLAY[1],
      device: DEVICE,
      mtu: await interfaceMtu(client, DEVICE),
      daemons,
      version: await versionOf(client, 'nebula', ['-version']),
    };
  },
};
