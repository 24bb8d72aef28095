// `meshboi ping` on the CLI side: a line per probe, a lost probe or a session coming up skips a
// line, a peer that cannot be probed ends the run with the member's message, and the summary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatPong, formatSummary, runPings } from '../../cmd/ping';
import { CliError } from '../../cmd/cli-error';
import { ControlClientError } from '../../src/control/client';
import type { ProbeResult } from '../../src/member/probes';

const PONG: ProbeResult = { vpnIp: '192.168.50.2', rttMs: 1.234, route: { kind: 'direct', endpoint: '198.51.100.77:5000' } };

function refusal(error: string, code?: string): ControlClientError {
  return new ControlClientError(`the member on /run/meshboi/tun.sock refused: ${error}`, code === undefined ? { error } : { error, code });
}

/** A member answering with `answers` in turn. */
function scripted(answers: Array<ProbeResult | ControlClientError>): (vpnIp: string) => Promise<ProbeResult> {
  let next = 0;
  return async () => {
    const answer = answers[next++];
    if (answer instanceof Error) throw answer;
    return answer;
  };
}

test('one line per probe: pongs, a lost probe and a peer coming up, then the summary', async () => {
  const lines: string[] = [];
  const answers = [
    refusal('peer 192.168.50.2 is handshaking, not established; wait, or see `meshboi status`', 'not_established'),
    PONG,
    refusal('no reply from 192.168.50.2 within 2000 ms', 'timeout'),
    { ...PONG, rttMs: 12.5 },
  ];
  const replies = await runPings('192.168.50.2', 4, (line) => lines.push(line), scripted(answers), 0);
  assert.equal(replies, 2);
  assert.deepEqual(lines, [
    'peer 192.168.50.2 is handshaking, not established; wait, or see `meshboi status`',
    'pong from 192.168.50.2 via 198.51.100.77:5000 (direct) in 1.23 ms',
    'no reply from 192.168.50.2 within 2000 ms',
    'pong from 192.168.50.2 via 198.51.100.77:5000 (direct) in 12.5 ms',
    '--- 192.168.50.2: 4 probes, 2 replies, round trip min/avg/max 1.23/6.87/12.50 ms',
  ]);
});

test('an unknown or original peer ends the run at once with the member\'s own message', async () => {
  for (const [error, code] of [
    ['no peer has VPN IP 192.168.50.9; `meshboi status` lists the peers this member knows', 'unknown_peer'],
    ['peer 192.168.50.3 runs the original meshboi, which cannot answer probes; use plain `ping 192.168.50.3` instead', 'original_peer'],
    ['the member is still starting; ask again in a moment', undefined],
  ] as const) {
    const lines: string[] = [];
    await assert.rejects(runPings('192.168.50.9', 3, (line) => lines.push(line), scripted([refusal(error, code)]), 0), (thrown: unknown) => {
      assert.ok(thrown instanceof CliError);
      assert.equal(thrown.message, error);
      return true;
    });
    assert.deepEqual(lines, [], 'nothing printed before the error');
  }
});

test('no member on the control socket ends the run with the client\'s advice', async () => {
  const missing = new ControlClientError('cannot talk to the member on /run/meshboi/tun.sock: no member is running with this control socket');
  await assert.rejects(runPings('192.168.50.2', 2, () => {}, scripted([missing]), 0), /no member is running/);
});

test('pong and summary wording', () => {
  assert.equal(formatPong({ ...PONG, rttMs: 0.0421 }), 'pong from 192.168.50.2 via 198.51.100.77:5000 (direct) in 0.04 ms');
  assert.equal(formatSummary('fd00::2', 1, []), '--- fd00::2: 1 probe, 0 replies');
  assert.equal(formatSummary('fd00::2', 2, [3]), '--- fd00::2: 2 probes, 1 reply, round trip min/avg/max 3.00/3.00/3.00 ms');
});
