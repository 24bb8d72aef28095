#!/usr/bin/env node
// The `meshboi` executable: builds the program and hands it the process arguments.
import { addGenpskCommand } from './genpsk';
import { addMemberCommand } from './member';
import { addPingCommand } from './ping';
import { createProgram } from './program';
import { addRolodexCommand } from './rolodex';
import { addStatusCommand } from './status';

const program = createProgram();
addRolodexCommand(program);
addMemberCommand(program);
addStatusCommand(program);
addPingCommand(program);
addGenpskCommand(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`meshboi: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
