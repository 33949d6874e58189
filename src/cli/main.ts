#!/usr/bin/env node
/**
 * One entry point for everything the image runs: `operator`, `gateway`, `export`, `validate`; and
 * the customer admin's tools: `login`, `usage`, `unseal`, `set-password`.
 * Each subcommand lives beside the code it runs and registers itself here; only the modules of the
 * subcommand that runs are loaded (subcommands.ts).
 */
import { Command } from 'commander';
import { registerSubcommands } from './subcommands.ts';

const program = new Command('tenant-backup')
  .description('Cloud Backup for business customers on Kubernetes: operator, data-plane gateway and tools')
  .showHelpAfterError()
  .exitOverride((error) => {
    process.exit(error.exitCode);
  });

await registerSubcommands(program, process.argv.slice(2));

await program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
