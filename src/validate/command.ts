import type { Command } from 'commander';
import { formatError, validateManifests } from './manifests.ts';

export function registerValidateCommand(program: Command): void {
  program
    .command('validate')
    .description('Validate manifests of this API offline against the CRD schemas and rules, as a GitOps pipeline would before merging. Exits 1 when any object is invalid.')
    .argument('<paths...>', 'YAML or JSON files, or directories searched recursively')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (paths: string[], options: { output: string }) => {
      if (options.output !== 'text' && options.output !== 'json') {
        throw new Error(`--output must be text or json, not ${options.output}`);
      }
      const report = await validateManifests(paths);
      if (options.output === 'json') {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        for (const error of report.errors) process.stdout.write(`${formatError(error)}\n`);
        process.stderr.write(`${report.files} file(s), ${report.validated} object(s) validated, ${report.skipped} of other APIs skipped, ${report.errors.length} error(s)\n`);
      }
      process.exitCode = report.errors.length > 0 ? 1 : 0;
    });
}
