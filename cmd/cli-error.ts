// The base of errors the member's command line reports to a person as they are: each one says
// what was wrong and what to do, so the entry point prints the message without a stack.
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
