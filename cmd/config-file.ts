// `--config FILE`: a YAML file whose keys are a command's long flag names, each value read by the
// flag's own parser, so a file says exactly what a command line could; flags given override it.
import fs from 'node:fs';
import type { Command, Option } from 'commander';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';

/** One option as the file sees it: its key, and how many values it takes. */
export interface ConfigOption {
  /** The long flag without its dashes, e.g. `listen-address`. */
  key: string;
  /** `switch`: true or false; `value`: one value; `list`: one value or a YAML list of them. */
  takes: 'switch' | 'value' | 'list';
  /** The option's value from one text value and the value so far (lists accumulate); throws why not. */
  parse(text: string, previous: unknown): unknown;
}

export type ConfigErrorReason = 'unreadable' | 'syntax' | 'not_a_mapping' | 'unknown_key' | 'wrong_type' | 'bad_value';

/** Names the file, the line (null when the problem is not on one line) and the key at fault. */
export class ConfigFileError extends Error {
  constructor(
    readonly reason: ConfigErrorReason,
    readonly file: string,
    readonly line: number | null,
    readonly key: string | null,
    detail: string,
  ) {
    super(`${line === null ? file : `${file}:${line}`}: ${detail}`);
    this.name = 'ConfigFileError';
  }
}

/** A value the file sets, by key, with the line it came from. */
export interface ConfigValue {
  key: string;
  value: unknown;
  line: number;
}

export type ConfigFileResult = { ok: true; values: ConfigValue[] } | { ok: false; error: ConfigFileError };

/**
 * Reads `text` (the contents of `file`) against `options`. Every scalar stays text (YAML's
 * failsafe schema), as on a command line: `0755`, `1e3` or `yes` reach the flag's parser as
 * written, never reinterpreted as numbers or booleans first. An empty file sets nothing.
 */
export function parseConfigFile(text: string, file: string, options: readonly ConfigOption[]): ConfigFileResult {
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, schema: 'failsafe' });
  const lineOf = (node: Node | null | undefined): number => (node?.range ? lines.linePos(node.range[0]).line : 1);
  const fail = (reason: ConfigErrorReason, line: number | null, key: string | null, detail: string): ConfigFileResult => ({
    ok: false,
    error: new ConfigFileError(reason, file, line, key, detail),
  });

  const [syntaxError] = document.errors;
  if (syntaxError) {
    const detail = syntaxError.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    return fail('syntax', syntaxError.linePos?.[0].line ?? null, null, `${detail} (not valid YAML)`);
  }
  if (document.contents === null) return { ok: true, values: [] };
  if (!isMap(document.contents)) {
    return fail('not_a_mapping', lineOf(document.contents), null, 'the file must be a mapping of option names to values, like "listen-port: 6264"');
  }

  const byKey = new Map(options.map((option) => [option.key, option]));
  const values: ConfigValue[] = [];
  for (const pair of document.contents.items) {
    const keyNode = pair.key as Node | null;
    const keyLine = lineOf(keyNode);
    if (!isScalar(keyNode)) return fail('wrong_type', keyLine, null, 'a key must be an option name, like "listen-port"');
    const key = String(keyNode.value);
    const option = byKey.get(key);
    if (!option) {
      const suggestion = closestKey(key, [...byKey.keys()]);
      return fail('unknown_key', keyLine, key, `unknown key "${key}"${suggestion ? ` (did you mean ${suggestion}?)` : ''}`);
    }
    const read = readValue(option, resolveAlias(pair.value as Node | null, document));
    if (!read.ok) return fail(read.reason, lineOf((pair.value as Node | null) ?? keyNode), key, read.detail);
    values.push({ key, value: read.value, line: keyLine });
  }
  return { ok: true, values };
}

function resolveAlias(node: Node | null, document: Document): Node | null {
  return isAlias(node) ? ((node.resolve(document) as Node | undefined) ?? null) : node;
}

type ReadResult = { ok: true; value: unknown } | { ok: false; reason: 'wrong_type' | 'bad_value'; detail: string };

function readValue(option: ConfigOption, node: Node | null): ReadResult {
  const wrongType = (expected: string): ReadResult => ({
    ok: false,
    reason: 'wrong_type',
    detail: `"${option.key}" takes ${expected}, got ${describeNode(node)}`,
  });
  switch (option.takes) {
    case 'switch': {
      if (!isScalar(node) || (node.value !== 'true' && node.value !== 'false')) return wrongType('true or false');
      return parseText(option, node.value, undefined);
    }
    case 'value': {
      if (!isScalar(node) || node.value === '') return wrongType('one value');
      return parseText(option, String(node.value), undefined);
    }
    case 'list': {
      const items = isSeq(node) ? node.items : [node];
      let value: unknown;
      for (const item of items) {
        if (!isScalar(item) || item.value === '') return wrongType('a value or a list of values');
        const parsed = parseText(option, String(item.value), value);
        if (!parsed.ok) return parsed;
        value = parsed.value;
      }
      if (items.length === 0) return wrongType('at least one value');
      return { ok: true, value };
    }
  }
}

function parseText(option: ConfigOption, text: string, previous: unknown): ReadResult {
  try {
    return { ok: true, value: option.parse(text, previous) };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, reason: 'bad_value', detail: `"${option.key}: ${text}" is not accepted: ${reason}` };
  }
}

function describeNode(node: Node | null): string {
  if (node === null) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return node.value === '' ? 'an empty value' : `"${String(node.value)}"`;
  return 'something else';
}

/** The known key a typo most likely meant: within a third of its length in edits, at most 3. */
function closestKey(key: string, known: readonly string[]): string | null {
  const wanted = key.replace(/^-+/, '').replace(/[A-Z_]/g, (letter) => (letter === '_' ? '-' : `-${letter.toLowerCase()}`));
  let best: string | null = null;
  let bestDistance = Math.min(3, Math.max(1, Math.floor(wanted.length / 3)));
  for (const candidate of known) {
    const distance = editDistance(wanted, candidate);
    if (distance <= bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

// ---------------------------------------------------------------------------------------------
// Commander: which options a command (and the program above it) offers, and applying a file.

interface CommandOption extends ConfigOption {
  owner: Command;
  attribute: string;
}

/**
 * The options of `command` and of its ancestors (e.g. the global `--log-level`), as the file sees
 * them. Commander cannot tell an option that accumulates repeats (`--rolodex-address a
 * --rolodex-address b`) from one that keeps the last, so those are named in `repeatable`.
 */
export function commandConfigOptions(command: Command, repeatable: readonly string[] = []): CommandOption[] {
  const options = new Map<string, CommandOption>();
  for (let owner: Command | null = command; owner; owner = owner.parent) {
    for (const option of owner.options as readonly Option[]) {
      const key = option.long?.replace(/^--/, '');
      if (!key || key === 'config' || options.has(key)) continue;
      options.set(key, describeOption(owner, option, key, repeatable.includes(key)));
    }
  }
  const unknown = repeatable.filter((key) => !options.has(key));
  if (unknown.length > 0) throw new Error(`repeatable options ${unknown.join(', ')} are not options of meshboi ${command.name()}`);
  return [...options.values()];
}

function describeOption(owner: Command, option: Option, key: string, repeats: boolean): CommandOption {
  const attribute = option.attributeName();
  if (!option.required && !option.optional) {
    return { key, owner, attribute, takes: 'switch', parse: (text) => (text === 'true') !== option.negate };
  }
  const parseArg = option.parseArg as ((text: string, previous: unknown) => unknown) | undefined;
  const takes = repeats || option.variadic ? 'list' : 'value';
  const accumulate = (text: string, previous: unknown): unknown => (takes === 'list' ? [...((previous as unknown[] | undefined) ?? []), text] : text);
  return { key, owner, attribute, takes, parse: parseArg ? (text, previous) => parseArg(text, previous) : accumulate };
}

/**
 * Adds `--config <file>` to `command`. Once commander has read the command line, and before it
 * checks required options, the file's values fill every option not given as a flag or from the
 * environment. A bad file stops the command with a ConfigFileError.
 */
export function acceptConfigFile(command: Command, settings: { repeatable?: readonly string[] } = {}): Command {
  command.option('--config <file>', 'read options from this YAML file (keys are the long flag names); flags given here override it');
  const parseCommandLine = command.parseOptions.bind(command);
  command.parseOptions = (args) => {
    const parsed = parseCommandLine(args);
    const file = command.getOptionValue('config') as string | undefined;
    if (file !== undefined) applyConfigFile(command, file, readConfigText(file), settings.repeatable ?? []);
    return parsed;
  };
  return command;
}

function readConfigText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigFileError('unreadable', file, null, null, `cannot read the config file (${reason}); check the --config path and its permissions`);
  }
}

/** Sets each value of the file on the command owning its option, unless a flag or variable set it. */
export function applyConfigFile(command: Command, file: string, text: string, repeatable: readonly string[] = []): void {
  const options = commandConfigOptions(command, repeatable);
  const result = parseConfigFile(text, file, options);
  if (!result.ok) throw result.error;
  const byKey = new Map(options.map((option) => [option.key, option]));
  for (const { key, value } of result.values) {
    const { owner, attribute } = byKey.get(key) as CommandOption;
    const source = owner.getOptionValueSource(attribute);
    if (source === 'cli' || source === 'env') continue;
    owner.setOptionValueWithSource(attribute, value, 'config');
  }
}
