/**
 * Every subcommand of the entry point, and which module registers it; each module adds itself with
 * one entry here.
 *
 * Modules are imported only when their subcommand runs: the image runs every process through one
 * entry point, and importing all of them costs the process that needs one. The gateway pod, above
 * all — it never talks to the API server, yet importing the operator's modules (the Kubernetes
 * client among them) added ~50 MiB of resident memory and about 2 CPU-s per GiB uploaded (more
 * garbage collection over the bigger heap; src/gateway/README.md, "Performance"). `--help`, no
 * subcommand, or an unknown one load them all, so the help lists every command.
 */
import type { Command } from 'commander';

type Register = (program: Command) => void;

interface SubcommandModule {
  /** The subcommands the module registers (checked against what it registers by subcommands.test.ts). */
  names: readonly string[];
  load: () => Promise<Register>;
}

export const SUBCOMMAND_MODULES: readonly SubcommandModule[] = [
  { names: ['audit-bundle'], load: async () => (await import('../audit/command.ts')).registerAuditCommand },
  { names: ['login', 'usage', 'unseal', 'set-password'], load: async () => (await import('../customer/command.ts')).registerCustomerCommands },
  { names: ['export', 'verify-export', 'receive-export', 'open-export'], load: async () => (await import('../export/command.ts')).registerExportCommands },
  { names: ['gateway'], load: async () => (await import('../gateway/command.ts')).registerGatewayCommand },
  { names: ['operator'], load: async () => (await import('../operator/command.ts')).registerOperatorCommand },
  { names: ['usage-ledger'], load: async () => (await import('../metering/command.ts')).registerUsageLedgerCommand },
  { names: ['validate'], load: async () => (await import('../validate/command.ts')).registerValidateCommand },
];

/** The modules a command line needs: the one of its subcommand, or all of them (help, none, unknown). */
export function modulesFor(args: readonly string[], modules: readonly SubcommandModule[] = SUBCOMMAND_MODULES): readonly SubcommandModule[] {
  // The program has no options of its own besides --help and --version: the first word is the subcommand.
  const first = args[0];
  const wanted = first === undefined || first.startsWith('-') ? undefined : modules.find((module) => module.names.includes(first));
  return wanted === undefined ? modules : [wanted];
}

/** Registers the subcommands `args` (the arguments after the script) may run. */
export async function registerSubcommands(program: Command, args: readonly string[]): Promise<void> {
  for (const module of modulesFor(args)) (await module.load())(program);
}
