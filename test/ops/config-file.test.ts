// `--config FILE`: the loader on its own (values, errors with file, line and key) and through the
// real rolodex, member and status commands (flags override the file, lists for repeated flags),
// and the commented examples in examples/ hold only real flags with values they accept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { acceptConfigFile, commandConfigOptions, ConfigFileError, parseConfigFile, type ConfigFileResult } from '../../cmd/config-file';
import { addMemberCommand } from '../../cmd/member';
import { createProgram } from '../../cmd/program';
import { addRolodexCommand } from '../../cmd/rolodex';
import { addStatusCommand } from '../../cmd/status';

const EXAMPLES = path.resolve(__dirname, '../../../examples');
/** Options of `meshboi member` that take a list in a file, as the flag may be repeated. */
const MEMBER_REPEATABLE = ['rolodex-address'];

type Options = Record<string, unknown>;

/** The real program with one subcommand whose action only records the options it was given. */
function programWith(name: 'rolodex' | 'member' | 'status'): { program: Command; command: Command; run(args: string[]): Promise<Options> } {
  const program = createProgram().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  ({ rolodex: addRolodexCommand, member: addMemberCommand, status: addStatusCommand })[name](program);
  const command = program.commands.find((each) => each.name() === name) as Command;
  if (name === 'status') acceptConfigFile(command);
  let received: Options = {};
  command.action((options: Options) => {
    received = { ...options, ...program.opts() };
  });
  return {
    program,
    command,
    async run(args) {
      await program.parseAsync([name, ...args], { from: 'user' });
      return received;
    },
  };
}

function writeConfig(text: string, name = 'meshboi.yml'): string {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'meshboi-config-'));
  const file = path.join(directory, name);
  fs.writeFileSync(file, text);
  return file;
}

function removeConfig(file: string): void {
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
}

function parseForRolodex(text: string): ConfigFileResult {
  return parseConfigFile(text, 'meshboi.yml', commandConfigOptions(programWith('rolodex').command));
}

function parseError(result: ConfigFileResult): ConfigFileError {
  assert.equal(result.ok, false, 'the file is refused');
  return (result as { error: ConfigFileError }).error;
}

test('a good file sets every option it names, read by the flag parsers, global options included', async () => {
  const file = writeConfig(
    ['# a rolodex', 'listen-address: 127.0.0.1', 'listen-port: 7000', 'map-interval: 0.5', 'metrics-address: "[::1]:9464"', 'log-level: debug', ''].join('\n'),
  );
  try {
    const options = await programWith('rolodex').run(['--config', file]);
    assert.equal(options.listenAddress, '127.0.0.1');
    assert.equal(options.listenPort, 7000);
    assert.equal(options.mapInterval, 0.5);
    assert.deepEqual(options.metricsAddress, { host: '::1', port: 9464 });
    assert.equal(options.logLevel, 'debug');
    assert.equal(options.maxNetworks, 20_000, 'what the file leaves out keeps its default');
  } finally {
    removeConfig(file);
  }
});

test('a flag given on the command line overrides the file, before or after --config', async () => {
  const file = writeConfig('listen-port: 7000\nmap-interval: 0.5\n');
  try {
    for (const args of [['--config', file, '--listen-port', '7001'], ['--listen-port', '7001', '--config', file]]) {
      const options = await programWith('rolodex').run(args);
      assert.equal(options.listenPort, 7001, args.join(' '));
      assert.equal(options.mapInterval, 0.5, args.join(' '));
    }
  } finally {
    removeConfig(file);
  }
});

test('an unknown key is refused with the file, its line and the key it most likely meant', async () => {
  const text = 'listen-address: 127.0.0.1\n\n# the port\nlisten-adress: 0.0.0.0\n';
  const error = parseError(parseForRolodex(text));
  assert.equal(error.message, 'meshboi.yml:4: unknown key "listen-adress" (did you mean listen-address?)');
  assert.deepEqual([error.reason, error.line, error.key], ['unknown_key', 4, 'listen-adress']);
  assert.equal(parseError(parseForRolodex('--map-interval: 5\n')).message, 'meshboi.yml:1: unknown key "--map-interval" (did you mean map-interval?)');
  assert.equal(parseError(parseForRolodex('colour: blue\n')).message, 'meshboi.yml:1: unknown key "colour"');
  const file = writeConfig(text, 'rolodex.yml');
  try {
    await assert.rejects(programWith('rolodex').run(['--config', file]), (thrown: Error) => {
      assert.ok(thrown instanceof ConfigFileError);
      assert.equal(thrown.message, `${file}:4: unknown key "listen-adress" (did you mean listen-address?)`);
      return true;
    });
  } finally {
    removeConfig(file);
  }
});

test('a value of the wrong type is refused with the line of the value', () => {
  const cases: Array<[string, number, string]> = [
    ['listen-address: 127.0.0.1\nlisten-port:\n  - 1\n  - 2\n', 3, 'meshboi.yml:3: "listen-port" takes one value, got a list'],
    ['map-interval: {seconds: 5}\n', 1, 'meshboi.yml:1: "map-interval" takes one value, got a mapping'],
    ['listen-address: 127.0.0.1\nlisten-port:\n', 2, 'meshboi.yml:2: "listen-port" takes one value, got an empty value'],
    ['max-networks: 0\n', 1, 'meshboi.yml:1: "max-networks: 0" is not accepted: --max-networks must be a whole number of at least 1.'],
    ['log-level: loud\n', 1, 'meshboi.yml:1: "log-level: loud" is not accepted: Allowed choices are error, warn, info, debug.'],
    ['metrics-address: 9464\n', 1, 'meshboi.yml:1: "metrics-address: 9464" is not accepted: "9464" is not HOST:PORT; give e.g. 127.0.0.1:9464 or [::1]:9464 (port 0 picks a free one)'],
  ];
  for (const [text, line, message] of cases) {
    const error = parseError(parseForRolodex(text));
    assert.equal(error.message, message);
    assert.equal(error.line, line, message);
  }
});

test('a switch takes true or false and nothing else', async () => {
  const { command } = programWith('status');
  const options = commandConfigOptions(command);
  assert.equal(options.find((option) => option.key === 'json')?.takes, 'switch');
  const read = parseConfigFile('json: true\ntun-name: office\n', 'status.yml', options);
  assert.deepEqual(read.ok && read.values.map(({ key, value, line }) => [key, value, line]), [['json', true, 1], ['tun-name', 'office', 2]]);
  assert.equal(parseError(parseConfigFile('json: yes\n', 'status.yml', options)).message, 'status.yml:1: "json" takes true or false, got "yes"');
  const file = writeConfig('json: true\n');
  try {
    assert.equal((await programWith('status').run(['--config', file])).json, true);
  } finally {
    removeConfig(file);
  }
});

test('YAML that does not parse, or is not a mapping, is refused with its line', () => {
  assert.equal(parseError(parseForRolodex('listen-port: 1\nlisten-port: 2\n')).message, 'meshboi.yml:2: Map keys must be unique (not valid YAML)');
  assert.equal(parseError(parseForRolodex('\n- listen-port\n')).message, 'meshboi.yml:2: the file must be a mapping of option names to values, like "listen-port: 6264"');
  assert.equal(parseError(parseForRolodex('listen-port: [1\n')).reason, 'syntax');
  assert.deepEqual(parseForRolodex('# nothing set yet\n'), { ok: true, values: [] });
});

test('values stay text for the flag parser: no YAML number or boolean conversion', () => {
  const { command } = programWith('member');
  const read = parseConfigFile('network: 0755\npsk: 1e3\ntun-name: "yes"\n', 'member.yml', commandConfigOptions(command, MEMBER_REPEATABLE));
  assert.deepEqual(read.ok && read.values.map(({ value }) => value), ['0755', '1e3', 'yes']);
});

test('naming a repeatable option the command does not have is a programming error, caught at once', () => {
  assert.throws(() => commandConfigOptions(programWith('rolodex').command, ['rolodex-adress']), /repeatable options rolodex-adress are not options of meshboi rolodex/);
});

test('a YAML alias reads as the value its anchor names', () => {
  const { command } = programWith('member');
  const read = parseConfigFile('network: &name office\ntun-name: *name\n', 'member.yml', commandConfigOptions(command, MEMBER_REPEATABLE));
  assert.deepEqual(read.ok && read.values.map(({ key, value }) => [key, value]), [['network', 'office'], ['tun-name', 'office']]);
});

test('a repeatable flag takes a YAML list or a single value, and flags replace the list', async () => {
  const list = writeConfig('network: office\nvpn-ip: 10.0.0.1/24\nrolodex-address:\n  - a.example\n  - b.example:7000\n');
  const single = writeConfig('network: office\nvpn-ip: 10.0.0.1/24\nrolodex-address: a.example\n');
  try {
    const fromList = await programWith('member').run(['--config', list]);
    assert.deepEqual(fromList.rolodexAddress, ['a.example', 'b.example:7000']);
    assert.equal(fromList.network, 'office', 'required options may come from the file');
    assert.deepEqual((await programWith('member').run(['--config', single])).rolodexAddress, ['a.example']);
    const overridden = await programWith('member').run(['--config', list, '--rolodex-address', 'c.example', '--rolodex-address', 'd.example']);
    assert.deepEqual(overridden.rolodexAddress, ['c.example', 'd.example']);
    assert.deepEqual((await programWith('member').run(['-config', list])).rolodexAddress, ['a.example', 'b.example:7000'], 'Go-style -config');
  } finally {
    removeConfig(list);
    removeConfig(single);
  }
});

test('a missing config file is named with advice', async () => {
  await assert.rejects(
    programWith('rolodex').run(['--config', '/nonexistent/meshboi.yml']),
    /^ConfigFileError: \/nonexistent\/meshboi\.yml: cannot read the config file \(ENOENT\); check the --config path and its permissions$/,
  );
});

/** The example with every commented-out `# key: value` line switched on too. */
function exampleWithSuggestions(name: string): string {
  return fs.readFileSync(path.join(EXAMPLES, name), 'utf8').replace(/^# ([a-z][a-z0-9-]*: .*)$/gm, '$1');
}

test('examples/rolodex.yml is accepted, and so is each key it suggests in a comment', async () => {
  for (const text of [fs.readFileSync(path.join(EXAMPLES, 'rolodex.yml'), 'utf8'), exampleWithSuggestions('rolodex.yml')]) {
    const read = parseForRolodex(text);
    assert.ok(read.ok, read.ok ? '' : read.error.message);
    assert.ok(read.values.length >= 10);
  }
  const options = await programWith('rolodex').run(['--config', path.join(EXAMPLES, 'rolodex.yml')]);
  assert.equal(options.listenAddress, '::');
  assert.equal(options.listenPort, 6264);
});

test('examples/member.yml is accepted, and so is each key it suggests in a comment', async () => {
  const suggested = exampleWithSuggestions('member.yml');
  assert.notEqual(suggested, fs.readFileSync(path.join(EXAMPLES, 'member.yml'), 'utf8'), 'the example suggests keys in comments');
  const file = writeConfig(suggested, 'member.yml');
  try {
    for (const config of [path.join(EXAMPLES, 'member.yml'), file]) {
      const options = await programWith('member').run(['--config', config]);
      assert.equal(options.network, 'office', config);
      assert.deepEqual(options.rolodexAddress, ['rolodex.example.net', '198.51.100.2:6264'], config);
    }
    const options = await programWith('member').run(['--config', file]);
    assert.deepEqual(options.metricsAddress, { host: '127.0.0.1', port: 9465 });
    assert.equal(options.user, 'meshboi');
  } finally {
    removeConfig(file);
  }
});
