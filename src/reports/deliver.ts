/**
 * One report's delivery: claim the period (create its record, or take over an abandoned or failed
 * one on the version read), send, record the outcome. The claim is the only way to the relay, so two
 * operators (an old leader still finishing, a new one starting) cannot both send. See record.ts for
 * what happens when a process dies in between.
 */
import type { Logger } from 'pino';
import type { ReportMailer, ReportMessage } from './mailer.ts';
import { describeSendError } from './mailer.ts';
import { mayTakeOver, recordName, type ReportRecord, type ReportRecords, type StoredRecord } from './record.ts';

export type DeliveryOutcome =
  | { outcome: 'sent'; messageId: string; attempt: number }
  | { outcome: 'failed'; error: string; attempt: number }
  /** Someone else holds or finished the claim. */
  | { outcome: 'taken' };

export interface Delivery {
  namespace: string;
  tenant: string;
  /** The record as it would be claimed now (state sending, attempts 1). */
  record: ReportRecord;
  /** Stable per tenant and period (see ReportMessage). */
  messageId: string;
}

async function claimOrTakeOver(records: ReportRecords, d: Delivery, nowMs: number): Promise<StoredRecord | undefined> {
  const created = await records.claim(d.namespace, d.tenant, d.record);
  if (created) return created;
  const existing = await records.read(d.namespace, recordName({ id: d.record.periodId }));
  if (!existing || !mayTakeOver(existing.record, nowMs)) return undefined;
  // A retry sends the report as it was first written (the copy the viewers read is what was mailed),
  // with its baseline: only the attempt's bookkeeping changes.
  const retry: ReportRecord = { ...existing.record, state: 'sending', claimedAt: d.record.claimedAt, claimedBy: d.record.claimedBy, attempts: existing.record.attempts + 1 };
  return records.replace(d.namespace, d.tenant, existing, retry);
}

export async function deliver(records: ReportRecords, mailer: ReportMailer, d: Delivery, now: () => Date, logger: Logger): Promise<DeliveryOutcome> {
  const claimed = await claimOrTakeOver(records, d, now().getTime());
  if (!claimed) return { outcome: 'taken' };
  const { record } = claimed;
  // What is mailed is what the record holds (a retry's first text, see above), never rebuilt.
  const message: ReportMessage = { subject: record.subject, text: record.text, html: record.html, to: record.recipients, messageId: d.messageId };
  const log = logger.child({ tenant: d.tenant, period: record.periodId, attempt: record.attempts });
  log.info({ recipients: record.recipients.length }, 'sending backup report');
  let messageId: string;
  try {
    messageId = await mailer.send(message);
  } catch (error) {
    const reason = describeSendError(error);
    log.warn({ err: reason }, 'backup report not sent');
    await records.replace(d.namespace, d.tenant, claimed, { ...record, state: 'failed', error: reason });
    return { outcome: 'failed', error: reason, attempt: record.attempts };
  }
  // If this write fails the record stays `sending` and is taken over later: a second e-mail with the
  // same Message-ID, the at-least-once side of the trade (record.ts).
  await records.replace(d.namespace, d.tenant, claimed, { ...record, state: 'sent', sentAt: now().toISOString(), messageId });
  log.info({ messageId }, 'backup report sent');
  return { outcome: 'sent', messageId, attempt: record.attempts };
}
