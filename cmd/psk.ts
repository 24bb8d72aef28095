// Where a member's pre-shared key comes from (--psk-file, MESHBOI_PSK or --psk), how it is checked
// for exposure and guessability, and how `meshboi genpsk` makes a strong one.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { CliError } from './cli-error';

export const PSK_ENV_VARIABLE = 'MESHBOI_PSK';

/** Below this many characters a PSK draws a warning, whatever its characters. */
export const MIN_PSK_LENGTH = 16;
/** One captured handshake allows offline guessing, so a PSK should resist about 2^64 guesses. */
export const MIN_PSK_BITS = 64;

const HOW_TO_GIVE_A_PSK =
  'give it with --psk-file FILE (recommended; create one with `meshboi genpsk > FILE && chmod 600 FILE`), ' +
  `the ${PSK_ENV_VARIABLE} environment variable, or --psk PSK (visible to every user in the process list)`;

export interface PskSources {
  pskFile?: string;
  env?: string;
  arg?: string;
}

export type PskSource = 'file' | 'env' | 'arg';

export interface ResolvedPsk {
  /** The raw bytes of the PSK as typed: the original member uses them as is, without hashing. */
  psk: Buffer;
  source: PskSource;
  /** Things the operator should hear about; never containing the PSK itself. */
  warnings: string[];
}

export class PskError extends CliError {}

/** Reads the PSK from exactly one source and says what is weak about it. Throws PskError. */
export function resolvePsk(sources: PskSources): ResolvedPsk {
  const given = ([
    ['file', sources.pskFile, '--psk-file'],
    ['env', sources.env, PSK_ENV_VARIABLE],
    ['arg', sources.arg, '--psk'],
  ] as const).filter(([, value]) => value !== undefined);
  if (given.length === 0) throw new PskError(`no PSK given: ${HOW_TO_GIVE_A_PSK}`);
  if (given.length > 1) {
    throw new PskError(`the PSK was given ${given.length} ways (${given.map(([, , name]) => name).join(', ')}): give exactly one`);
  }
  const [source, value] = given[0];
  const warnings: string[] = [];
  let psk: Buffer;
  if (source === 'file') {
    psk = readPskFile(value as string);
  } else {
    psk = Buffer.from(value as string, 'utf8');
    if (source === 'arg') {
      warnings.push(`--psk shows the PSK to every user of this machine in the process list; use --psk-file FILE or ${PSK_ENV_VARIABLE} instead`);
    }
  }
  if (psk.length === 0) throw new PskError(`the PSK from ${given[0][2]} is empty: ${HOW_TO_GIVE_A_PSK}`);
  const weakness = pskWeakness(psk);
  if (weakness) warnings.push(`${weakness}; anyone who captures one handshake can try to guess it offline, so make a strong one with \`meshboi genpsk\``);
  return { psk, source, warnings };
}

function readPskFile(path: string): Buffer {
  let stat: fs.Stats;
  let contents: Buffer;
  try {
    stat = fs.statSync(path);
    if (!stat.isFile()) throw new PskError(`--psk-file ${path} is not a regular file`);
    contents = fs.readFileSync(path);
  } catch (error) {
    if (error instanceof PskError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PskError(`--psk-file ${path} does not exist; create it with \`meshboi genpsk > ${path} && chmod 600 ${path}\``);
    if (code === 'EACCES') throw new PskError(`--psk-file ${path} cannot be read (permission denied); run as the file's owner or root`);
    throw new PskError(`--psk-file ${path} cannot be read: ${(error as Error).message}`);
  }
  if ((stat.mode & 0o077) !== 0) {
    const mode = (stat.mode & 0o777).toString(8).padStart(3, '0');
    throw new PskError(`--psk-file ${path} is readable by other users (mode ${mode}); restrict it with \`chmod 600 ${path}\` and start again`);
  }
  return trimOneNewline(contents);
}

/** Editors and `echo` end a file with a newline that is not part of the key; only one is removed. */
function trimOneNewline(contents: Buffer): Buffer {
  const LF = 0x0a;
  const CR = 0x0d;
  let end = contents.length;
  if (end > 0 && contents[end - 1] === LF) {
    end--;
    if (end > 0 && contents[end - 1] === CR) end--;
  }
  return contents.subarray(0, end);
}

/** Why this PSK is easy to guess, or null when it looks strong enough. */
export function pskWeakness(psk: Buffer): string | null {
  const text = psk.toString('latin1');
  if (text.length < MIN_PSK_LENGTH) return `the PSK is short (${text.length} characters, fewer than ${MIN_PSK_LENGTH})`;
  const bits = estimatePskBits(text);
  if (bits < MIN_PSK_BITS) return `the PSK looks guessable (about ${Math.round(bits)} bits of entropy, fewer than ${MIN_PSK_BITS})`;
  return null;
}

/**
 * A deliberately pessimistic guess at the entropy of a human-chosen key: each character is worth
 * log2 of the size of the character classes the key uses, except that a character seen before, or
 * one step away from the previous one (abc, 123), is worth one bit.
 */
export function estimatePskBits(text: string): number {
  const poolSize =
    (/[a-z]/.test(text) ? 26 : 0) +
    (/[A-Z]/.test(text) ? 26 : 0) +
    (/[0-9]/.test(text) ? 10 : 0) +
    (/[^a-zA-Z0-9]/.test(text) ? 33 : 0);
  const bitsPerFreshCharacter = Math.log2(Math.max(poolSize, 2));
  const seen = new Set<number>();
  let bits = 0;
  let previous = -10;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const predictable = seen.has(code) || Math.abs(code - previous) === 1;
    bits += predictable ? 1 : bitsPerFreshCharacter;
    seen.add(code);
    previous = code;
  }
  return bits;
}

/** 32 random bytes as base64url: 43 characters, 256 bits, safe in files, shells and env variables. */
export function generatePsk(): string {
  return randomBytes(32).toString('base64url');
}
