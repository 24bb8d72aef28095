// `meshboi genpsk`: prints a strong random pre-shared key for `meshboi member --psk-file`.
import type { Command } from 'commander';
import { generatePsk } from './psk';

export function addGenpskCommand(program: Command): void {
  program
    .command('genpsk')
    .description('print a random pre-shared key (256 bits, base64url), e.g. meshboi genpsk > psk && chmod 600 psk')
    .action(() => {
      process.stdout.write(`${generatePsk()}\n`);
    });
}
