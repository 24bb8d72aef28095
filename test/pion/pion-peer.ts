// Builds test/pion/peer (our stand-in for an original Go member) against pion/dtls v2 from
// Debian's Go sources, offline: a GOPATH of symlinks into /usr/share/gocode/src, GOPROXY=off.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { TestContext } from 'node:test';

const REPO = resolve(__dirname, '..', '..', '..');
const SOURCE = join(REPO, 'test', 'pion', 'peer');
const BUILD = join(REPO, 'build', 'pion-peer');
const GOPATH = join(BUILD, 'gopath');
export const PION_PEER = join(BUILD, 'pion-peer');
const DEBIAN_GO = '/usr/share/gocode/src';
const PACKAGES = 'golang-go golang-github-pion-dtls.v2-dev';

/**
 * Debian keeps pion's /v2 modules without their /v2 folder (transport, udp); in GOPATH mode the
 * import path must exist as a folder, so each import root gets a link to where Debian put it.
 */
const IMPORT_ROOTS: Array<[string, string]> = [
  ['github.com/pion/dtls', 'github.com/pion/dtls'],
  ['github.com/pion/logging', 'github.com/pion/logging'],
  ['github.com/pion/transport/v2', 'github.com/pion/transport'],
  ['github.com/pion/udp/v2', 'github.com/pion/udp'],
  ['golang.org/x', 'golang.org/x'],
  ['meshboi-pion-peer', SOURCE],
];

let built: string | null = null;

/** Why the peer cannot be built here, or null when Go and pion's sources are installed. */
function missing(): string | null {
  if (spawnSync('go', ['version'], { stdio: 'ignore' }).status !== 0) return 'go is not installed';
  if (!existsSync(join(DEBIAN_GO, 'github.com/pion/dtls/v2/conn.go'))) return "pion/dtls v2's sources are not installed";
  return null;
}

/** Compiles the peer once per process; concurrent test processes each build and rename into place. */
function build(): string {
  if (built) return built;
  for (const [importPath, target] of IMPORT_ROOTS) {
    const link = join(GOPATH, 'src', importPath);
    if (existsSync(link)) continue;
    mkdirSync(dirname(link), { recursive: true });
    try {
      symlinkSync(target.startsWith('/') ? target : join(DEBIAN_GO, target), link);
    } catch (error) {
      // Another test process made the same link meanwhile.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  const temporary = `${PION_PEER}.${process.pid}`;
  const env = { ...process.env, GO111MODULE: 'off', GOPATH, GOPROXY: 'off', GOFLAGS: '', GOENV: 'off', GOCACHE: join(BUILD, 'cache') };
  try {
    execFileSync('go', ['build', '-o', temporary, 'meshboi-pion-peer'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`building the pion peer failed:\n${stderr}`);
  }
  renameSync(temporary, PION_PEER);
  rmSync(temporary, { force: true });
  built = PION_PEER;
  return built;
}

/**
 * The peer's path, built if needed. Without Go or pion's sources the test is skipped with the
 * reason, except in CI (whose .ci/run installs them), where that is a failure.
 */
export function requirePionPeer(t: TestContext): string | null {
  const reason = missing();
  if (reason === null) return build();
  if (process.env.CI) throw new Error(`${reason}, but CI must run the pion tests: add ${PACKAGES} to .ci/run`);
  t.skip(`${reason} (Debian: apt-get install -y ${PACKAGES})`);
  return null;
}
