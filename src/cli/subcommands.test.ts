import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { modulesFor, registerSubcommands, SUBCOMMAND_MODULES } from './subcommands.ts';

describe('subcommands', () => {
  it('name exactly what each module registers', async () => {
    for (const module of SUBCOMMAND_MODULES) {
      const program = new Command('t');
      (await module.load())(program);
      expect(program.commands.map((c) => c.name()).sort()).toEqual([...module.names].sort());
    }
  }, 60_000);

  it('load only the module of the subcommand that runs (the gateway does not load the operator)', () => {
    expect(modulesFor(['gateway', '--config-dir', '/etc/gateway']).flatMap((m) => m.names)).toEqual(['gateway']);
    expect(modulesFor(['verify-export', 'x']).flatMap((m) => m.names)).toContain('export');
    expect(modulesFor(['verify-export']).length).toBe(1);
  });

  it('load every module for help, no subcommand or an unknown one, so the help lists them all', async () => {
    for (const args of [[], ['--help'], ['-h'], ['no-such-command']]) expect(modulesFor(args)).toBe(SUBCOMMAND_MODULES);
    const program = new Command('t');
    await registerSubcommands(program, ['--help']);
    expect(program.commands.map((c) => c.name())).toEqual(expect.arrayContaining(['operator', 'gateway', 'validate', 'login', 'export', 'audit-bundle']));
  }, 60_000);
});
