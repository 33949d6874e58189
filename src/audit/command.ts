/** `audit-bundle`: the tenant's audit evidence as a dated bundle for the auditor (S17). */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { tenantNamespaceName } from '../controllers/labels.ts';
import { getObject } from '../runtime/apply.ts';
import { KubeClient } from '../runtime/kube/client.ts';
import { auditBundle, bundleArchive } from './bundle.ts';
import { AUDIT_REPORT_NAME, POLICY_REPORT, type PolicyReport } from './policy-report.ts';

export function registerAuditCommand(program: Command): void {
  program
    .command('audit-bundle')
    .description('Write a tenant\'s audit evidence (its PolicyReport, the facts behind it, a SHA-256 manifest) as a dated bundle: a directory under --out, or a .tar.gz when --out ends so. Prints the path.')
    .requiredOption('--tenant <name>', 'tenant name')
    .requiredOption('--out <path>', 'a directory to write the bundle\'s dated directory into, or a file ending in .tar.gz')
    .option('--kubeconfig <path>', 'kubeconfig (default: in-cluster or $KUBECONFIG)')
    .action(async (flags: { tenant: string; out: string; kubeconfig?: string }) => {
      const client = KubeClient.load(flags.kubeconfig);
      try {
        const namespace = tenantNamespaceName(flags.tenant);
        const report = await getObject<PolicyReport>(client, POLICY_REPORT, AUDIT_REPORT_NAME, namespace);
        if (!report) throw new Error(`no PolicyReport ${AUDIT_REPORT_NAME} in ${namespace}: is the operator running with its audit on, and is ${flags.tenant} a tenant?`);
        const at = new Date();
        const bundle = auditBundle(flags.tenant, report, at);
        let written: string;
        if (flags.out.endsWith('.tar.gz') || flags.out.endsWith('.tgz')) {
          await writeFile(flags.out, bundleArchive(bundle, at));
          written = flags.out;
        } else {
          written = join(flags.out, bundle.name);
          await mkdir(written, { recursive: true });
          for (const file of bundle.files) await writeFile(join(written, file.path), file.content);
        }
        process.stdout.write(`${written}\n`);
      } finally {
        client.close();
      }
    });
}
