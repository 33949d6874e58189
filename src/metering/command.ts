/**
 * `usage-ledger`: a tenant's usage records for a billing import, one CloudEvent (JSON) per line, in
 * period order; with --month, that month only, and with --statement only its monthly statement
 * (the month record, present once the month has ended). Importing the same lines twice is safe:
 * each record's id is stable and a closed period's record never changes.
 */
import type { Command } from 'commander';
import { KubeClient } from '../runtime/kube/client.ts';
import { MONTH_EVENT_TYPE } from './events.ts';
import { recordsOf, USAGE_MONTH_LABEL, UsageLedger } from './ledger.ts';

export function registerUsageLedgerCommand(program: Command): void {
  program
    .command('usage-ledger')
    .description('Print a tenant\'s usage records (CloudEvents 1.0, one JSON object a line: io.tenantbackup.usage.hour.v1 per started hour, io.tenantbackup.usage.month.v1 per closed month) from the usage ledger in the operator\'s namespace.')
    .requiredOption('--tenant <name>', 'tenant name')
    .option('--month <YYYY-MM>', 'only this UTC month')
    .option('--statement', 'only the monthly statement (the month record); an error while the month is open')
    .option('--namespace <name>', 'the operator\'s namespace, where the ledger is', process.env.POD_NAMESPACE ?? 'tenant-backup-system')
    .option('--kubeconfig <path>', 'kubeconfig (default: in-cluster or $KUBECONFIG)')
    .action(async (flags: { tenant: string; month?: string; statement?: boolean; namespace: string; kubeconfig?: string }) => {
      if (flags.month !== undefined && !/^[0-9]{4}-(0[1-9]|1[0-2])$/.test(flags.month)) throw new Error(`--month must be YYYY-MM, not '${flags.month}'`);
      if (flags.statement && flags.month === undefined) throw new Error('--statement needs --month');
      const client = KubeClient.load(flags.kubeconfig);
      try {
        const months = (await new UsageLedger(client, flags.namespace).list(flags.tenant)).filter((c) => flags.month === undefined || c.metadata?.labels?.[USAGE_MONTH_LABEL] === flags.month);
        let events = months.flatMap(recordsOf);
        if (flags.statement) {
          events = events.filter((e) => e.type === MONTH_EVENT_TYPE);
          if (events.length === 0) throw new Error(`no statement for ${flags.tenant} in ${flags.month ?? ''}: the month has not ended, or nothing was metered`);
        }
        for (const event of events) process.stdout.write(`${JSON.stringify(event)}\n`);
      } finally {
        client.close();
      }
    });
}
