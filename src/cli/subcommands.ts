import type { Command } from 'commander';

/** Every subcommand of the entry point; each module adds itself with one line here. */
export function registerSubcommands(program: Command): void {
  void program;
}
