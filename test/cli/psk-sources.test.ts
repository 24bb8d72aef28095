// The PSK comes from exactly one source, file permissions and weak keys are flagged, genpsk is strong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { estimatePskBits, generatePsk, MIN_PSK_BITS, pskWeakness, resolvePsk, PskError } from '../../cmd/psk';

const STRONG = 'Zq3v-8XkP_2mTnR7wYb4LcJ1hD6sFgA0';

function withPskFile(contents: string | Buffer, mode: number, body: (file: string) => void): void {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'meshboi-psk-'));
  try {
    const file = path.join(directory, 'psk');
    fs.writeFileSync(file, contents, { mode });
    fs.chmodSync(file, mode);
    body(file);
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

test('no PSK at all names the three ways to give one', () => {
  assert.throws(
    () => resolvePsk({}),
    (error: Error) =>
      error instanceof PskError && /--psk-file FILE/.test(error.message) && /MESHBOI_PSK/.test(error.message) && /--psk PSK/.test(error.message),
  );
});

test('two sources at once are refused, naming both', () => {
  assert.throws(() => resolvePsk({ env: STRONG, arg: STRONG }), /given 2 ways \(MESHBOI_PSK, --psk\): give exactly one/);
});

test('the environment variable gives the raw bytes without warnings', () => {
  const resolved = resolvePsk({ env: STRONG });
  assert.deepEqual(resolved.psk, Buffer.from(STRONG));
  assert.equal(resolved.source, 'env');
  assert.deepEqual(resolved.warnings, []);
});

test('--psk works but warns that it shows in the process list', () => {
  const resolved = resolvePsk({ arg: STRONG });
  assert.deepEqual(resolved.psk, Buffer.from(STRONG));
  assert.equal(resolved.warnings.length, 1);
  assert.match(resolved.warnings[0], /process list/);
});

test('an empty PSK is refused', () => {
  assert.throws(() => resolvePsk({ env: '' }), /empty/);
});

test('a PSK file loses exactly one trailing newline', () => {
  withPskFile(`${STRONG}\n\n`, 0o600, (file) => {
    assert.equal(resolvePsk({ pskFile: file }).psk.toString(), `${STRONG}\n`);
  });
  withPskFile(`${STRONG}\r\n`, 0o600, (file) => {
    assert.equal(resolvePsk({ pskFile: file }).psk.toString(), STRONG);
  });
  withPskFile(STRONG, 0o400, (file) => {
    const resolved = resolvePsk({ pskFile: file });
    assert.equal(resolved.psk.toString(), STRONG);
    assert.equal(resolved.source, 'file');
    assert.deepEqual(resolved.warnings, []);
  });
});

test('a PSK file readable by group or others is refused with the chmod to run', () => {
  for (const mode of [0o640, 0o604, 0o644]) {
    withPskFile(STRONG, mode, (file) => {
      assert.throws(() => resolvePsk({ pskFile: file }), new RegExp(`readable by other users \\(mode ${mode.toString(8)}\\).*chmod 600`));
    });
  }
});

test('a missing PSK file says how to create one', () => {
  assert.throws(() => resolvePsk({ pskFile: '/nonexistent/meshboi-psk' }), /does not exist; create it with `meshboi genpsk/);
});

test('a directory is not a PSK file', () => {
  assert.throws(() => resolvePsk({ pskFile: os.tmpdir() }), /not a regular file/);
});

test('a short PSK warns and never repeats the key in the warning', () => {
  const resolved = resolvePsk({ env: 'hunter2' });
  assert.equal(resolved.warnings.length, 1);
  assert.match(resolved.warnings[0], /short \(7 characters/);
  assert.match(resolved.warnings[0], /meshboi genpsk/);
  assert.doesNotMatch(resolved.warnings[0], /hunter2/);
});

test('long but guessable PSKs warn: repeats, runs and few distinct characters', () => {
  for (const guessable of ['aaaaaaaaaaaaaaaaaaaaaaaa', 'password1234567890', 'abcdefghijklmnopqrstuvwxyz', '0000000000000000000000000000']) {
    assert.match(pskWeakness(Buffer.from(guessable)) ?? '', /guessable/, guessable);
  }
});

test('strong PSKs pass: random text and a long passphrase', () => {
  for (const strong of [STRONG, 'correct horse battery staple on a tuesday', generatePsk()]) {
    assert.equal(pskWeakness(Buffer.from(strong)), null, strong);
  }
});

test('genpsk makes distinct 256-bit base64url keys that pass the strength check', () => {
  const keys = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const key = generatePsk();
    assert.match(key, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(key, 'base64url').length, 32);
    assert.ok(estimatePskBits(key) >= 2 * MIN_PSK_BITS, `estimated ${estimatePskBits(key)} bits`);
    keys.add(key);
  }
  assert.equal(keys.size, 50);
});
