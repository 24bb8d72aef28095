#!/usr/bin/env node
// The `meshboi` executable: builds the program and hands it the process arguments.
import { createProgram } from './program';
import { addRolodexCommand } from './rolodex';

const program = createProgram();
addRolodexCommand(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`meshboi: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
