// The root of the `meshboi` command line: global options shared by every subcommand.
import { Command, Option } from 'commander';
import { configureLogging, LOG_LEVELS, type LogFormat } from '../src/log';

export interface GlobalOptions {
  logLevel: string;
  logFormat: LogFormat;
}

export function createProgram(): Command {
  const program = new Command('meshboi')
    .description('A peer-to-peer mesh VPN over DTLS, wire-compatible with the original meshboi')
    .addOption(new Option('--log-level <level>', 'log verbosity').choices([...LOG_LEVELS]).default('info'))
    .addOption(new Option('--log-format <format>', 'log line format').choices(['text', 'json']).default('text'))
    .showHelpAfterError()
    .hook('preAction', (command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      configureLogging(options.logLevel, options.logFormat);
    });
  return program;
}
