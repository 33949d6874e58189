import type { Command } from 'commander';
import { registerAuditCommand } from '../audit/command.ts';
import { registerCustomerCommands } from '../customer/command.ts';
import { registerExportCommands } from '../export/command.ts';
import { registerGatewayCommand } from '../gateway/command.ts';
import { registerOperatorCommand } from '../operator/command.ts';
import { registerValidateCommand } from '../validate/command.ts';

/** Every subcommand of the entry point; each module adds itself with one line here. */
export function registerSubcommands(program: Command): void {
  registerAuditCommand(program);
  registerCustomerCommands(program);
  registerExportCommands(program);
  registerGatewayCommand(program);
  registerOperatorCommand(program);
  registerValidateCommand(program);
}
