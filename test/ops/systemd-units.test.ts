// The systemd units in packaging/systemd pass `systemd-analyze verify` without a single warning
// and rate "OK" in its offline security review, checked in a scratch root holding the units, the
// host's own system units and the meshboi executable where the units expect it.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const REPOSITORY = path.resolve(__dirname, '../../..');
const UNITS = path.join(REPOSITORY, 'packaging/systemd');
const MESHBOI_CLI = path.resolve(__dirname, '../../cmd/meshboi.js');
const HOST_SYSTEM_UNITS = '/usr/lib/systemd/system';
/** What verify loads: the rolodex, and the member template through one instance. */
const UNIT_NAMES = ['meshboi-rolodex.service', 'meshboi-member@office.service'];

function analyzerPresent(): boolean {
  return spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Installs Debian's systemd package (which holds systemd-analyze) once, if we are root. */
function installAnalyzer(): string | null {
  if (process.getuid?.() !== 0) return 'systemd-analyze is missing and installing the systemd package needs root';
  const environment = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', 'systemd']]) {
    const run = spawnSync('apt-get', args, { env: environment, encoding: 'utf8', timeout: 300_000 });
    if (run.status !== 0) return `systemd-analyze is missing and apt-get ${args[0]} failed: ${(run.stderr || run.error?.message || '').trim()}`;
  }
  return analyzerPresent() ? null : 'the systemd package is installed but systemd-analyze is still missing';
}

/** True when systemd-analyze can run; otherwise skips the test, or fails it under CI. */
function requireAnalyzer(t: TestContext): boolean {
  if (analyzerPresent()) return true;
  const reason = installAnalyzer();
  if (reason === null) return true;
  if (process.env.CI) assert.fail(`${reason} (CI must verify the units: add systemd to .ci/run's packages)`);
  t.skip(reason);
  return false;
}

/** A root with the host's system units, `units` in /etc/systemd/system and /usr/bin/meshboi. */
function scratchRoot(units: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'meshboi-units-'));
  fs.cpSync(HOST_SYSTEM_UNITS, path.join(root, HOST_SYSTEM_UNITS), { recursive: true, verbatimSymlinks: true });
  fs.mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
  fs.copyFileSync(MESHBOI_CLI, path.join(root, 'usr/bin/meshboi'));
  fs.chmodSync(path.join(root, 'usr/bin/meshboi'), 0o755);
  fs.mkdirSync(path.join(root, 'etc/systemd/system'), { recursive: true });
  for (const [name, text] of Object.entries(units)) fs.writeFileSync(path.join(root, 'etc/systemd/system', name), text);
  return root;
}

function ourUnits(): Record<string, string> {
  return Object.fromEntries(fs.readdirSync(UNITS).filter((name) => name.endsWith('.service')).map((name) => [name, fs.readFileSync(path.join(UNITS, name), 'utf8')]));
}

function analyze(root: string, args: string[]): { status: number | null; output: string } {
  const run = spawnSync('systemd-analyze', [...args, `--root=${root}`, ...UNIT_NAMES], { encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}

function withRoot(units: Record<string, string>, body: (root: string) => void): void {
  const root = scratchRoot(units);
  try {
    body(root);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

test('packaging/systemd holds the rolodex unit and the member template', () => {
  assert.deepEqual(Object.keys(ourUnits()).sort(), ['meshboi-member@.service', 'meshboi-rolodex.service']);
});

test('systemd-analyze verify accepts both units without a warning', (t) => {
  if (!requireAnalyzer(t)) return;
  withRoot(ourUnits(), (root) => {
    const verified = analyze(root, ['verify']);
    assert.deepEqual(verified, { status: 0, output: '' });
  });
});

test('the verify check catches a unit systemd would warn about', (t) => {
  if (!requireAnalyzer(t)) return;
  const units = ourUnits();
  units['meshboi-rolodex.service'] = units['meshboi-rolodex.service'].replace('NoNewPrivileges=yes', 'NoNewPrivilege=yes');
  withRoot(units, (root) => {
    const verified = analyze(root, ['verify']);
    assert.match(verified.output, /Unknown key 'NoNewPrivilege'/);
  });
});

test('both units rate OK in systemd-analyze security (exposure below 3.0)', (t) => {
  if (!requireAnalyzer(t)) return;
  withRoot(ourUnits(), (root) => {
    const reviewed = analyze(root, ['security', '--offline=yes', '--threshold=30', '--no-pager']);
    assert.equal(reviewed.status, 0, reviewed.output);
    for (const name of UNIT_NAMES) assert.match(reviewed.output, new RegExp(`Overall exposure level for ${name.replace('.', '\\.')}: [0-2]\\.\\d`));
  });
});
