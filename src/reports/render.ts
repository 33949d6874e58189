/**
 * The report as people read it: a subject, plain text and HTML, in Italian or English. Every value
 * that comes from the cluster (names, host names, agent strings) is escaped in the HTML. Pure.
 */
import { humanBytes } from '../controllers/backupspace/report.ts';
import type { Digest, EndpointDigest } from './digest.ts';

export type ReportLanguage = 'it' | 'en';

export interface RenderedReport {
  subject: string;
  text: string;
  html: string;
}

interface Words {
  subject: (name: string, period: string) => string;
  intro: (name: string, start: string, end: string) => string;
  storage: string;
  spaces: string;
  endpoints: string;
  space: string;
  used: string;
  quota: string;
  lastBackup: string;
  never: string;
  snapshots: (added: number, total: number) => string;
  added: string;
  full: string;
  incremental: string;
  metadata: string;
  stored: string;
  quotaRefusals: string;
  authFailures: string;
  agent: string;
  outdated: string;
  overdueTitle: string;
  outdatedTitle: string;
  noneOverdue: string;
  noneOutdated: string;
  overdueMark: string;
  unmeasured: string;
  noEndpoints: string;
}

const WORDS: Record<ReportLanguage, Words> = {
  it: {
    subject: (name, period) => `Report backup ${name} — ${period}`,
    intro: (name, start, end) => `Riepilogo dei backup di ${name} dal ${start} al ${end} (UTC).`,
    storage: 'Spazio utilizzato', spaces: 'Spazi', endpoints: 'Dispositivi', space: 'spazio', used: 'usato', quota: 'quota',
    lastBackup: 'Ultimo backup', never: 'mai',
    snapshots: (added, total) => `Snapshot: ${added} nel periodo (${total} in totale)`,
    added: 'Dati aggiunti nel periodo', full: 'completi', incremental: 'incrementali', metadata: 'metadati', stored: 'Dati conservati',
    quotaRefusals: 'Scritture rifiutate per quota esaurita (507)', authFailures: 'Accessi rifiutati (autenticazione)',
    agent: 'Client', outdated: 'non aggiornato',
    overdueTitle: 'Dispositivi senza backup nell\'intervallo previsto', outdatedTitle: 'Client di backup da aggiornare',
    noneOverdue: 'Nessuno: tutti i dispositivi controllati hanno eseguito il backup in tempo.', noneOutdated: 'Nessuno.',
    overdueMark: 'IN RITARDO', unmeasured: 'dati del gateway non disponibili', noEndpoints: 'Nessun dispositivo.',
  },
  en: {
    subject: (name, period) => `Backup report ${name} — ${period}`,
    intro: (name, start, end) => `Summary of ${name}'s backups from ${start} to ${end} (UTC).`,
    storage: 'Storage used', spaces: 'Spaces', endpoints: 'Devices', space: 'space', used: 'used', quota: 'quota',
    lastBackup: 'Last backup', never: 'never',
    snapshots: (added, total) => `Snapshots: ${added} in the period (${total} in all)`,
    added: 'Data added in the period', full: 'full', incremental: 'incremental', metadata: 'metadata', stored: 'Data stored',
    quotaRefusals: 'Writes refused, quota exhausted (507)', authFailures: 'Access refused (authentication)',
    agent: 'Client', outdated: 'outdated',
    overdueTitle: 'Devices with no backup within their expected interval', outdatedTitle: 'Backup clients to upgrade',
    noneOverdue: 'None: every checked device backed up on time.', noneOutdated: 'None.',
    overdueMark: 'OVERDUE', unmeasured: 'gateway figures not available', noEndpoints: 'No devices.',
  },
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

const day = (iso: string) => iso.slice(0, 10);
/** The end is exclusive: people read the last day of the period. */
const lastDay = (endIso: string) => day(new Date(Date.parse(endIso) - 1).toISOString());
const stamp = (iso: string) => iso.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC');
const percent = (used: number, quota: number) => (quota > 0 ? ` (${Math.round((used / quota) * 100)}%)` : '');
const usage = (w: Words, used: number, quota: number) => `${humanBytes(used)} ${w.used} / ${humanBytes(quota)} ${w.quota}${percent(used, quota)}`;

/** The lines that describe one endpoint, as plain text (escaped by the HTML renderer). */
function endpointLines(w: Words, e: EndpointDigest): { title: string; lines: string[] } {
  const title = `${e.name}${e.hostname ? ` (${e.hostname})` : ''} — ${w.space} ${e.space}${e.overdue ? ` — ${w.overdueMark}` : ''}`;
  const lines = [
    `${w.lastBackup}: ${e.lastBackup ? stamp(e.lastBackup) : w.never}`,
    w.snapshots(e.snapshotsAdded, e.snapshotsTotal),
    `${w.added}: ${w.full} ${humanBytes(e.bytesAdded.full)}, ${w.incremental} ${humanBytes(e.bytesAdded.incremental)}, ${w.metadata} ${humanBytes(e.bytesAdded.metadata)}`,
    `${w.stored}: ${humanBytes(e.bytesStored)}`,
    `${w.quotaRefusals}: ${e.quotaRefusals}`,
    ...(e.agent ? [`${w.agent}: ${e.agent}${e.agentOutdated ? ` (${w.outdated})` : ''}`] : []),
    ...(e.unmeasured ? [`(${w.unmeasured})`] : []),
  ];
  return { title, lines };
}

export function renderReport(digest: Digest, language: ReportLanguage): RenderedReport {
  const w = WORDS[language];
  const subject = w.subject(digest.displayName, digest.period.id);
  const intro = w.intro(digest.displayName, day(digest.period.start), lastDay(digest.period.end));
  const storage = `${w.storage}: ${usage(w, digest.storage.usedBytes, digest.storage.quotaBytes)}`;
  const spaces = digest.spaces.map((s) => ({
    title: `${s.name}: ${usage(w, s.usedBytes, s.quotaBytes)}`,
    lines: [`${w.quotaRefusals}: ${s.quotaRefusals}`, `${w.authFailures}: ${s.authFailures}`],
  }));
  const endpoints = digest.endpoints.map((e) => endpointLines(w, e));
  const overdue = digest.overdue.length ? digest.overdue : [w.noneOverdue];
  const outdated = digest.outdatedAgents.length ? digest.outdatedAgents : [w.noneOutdated];

  const text = [
    intro, '', storage, '',
    `${w.spaces}:`, ...spaces.flatMap((s) => [`- ${s.title}`, ...s.lines.map((l) => `    ${l}`)]), '',
    `${w.endpoints}:`, ...(endpoints.length ? endpoints.flatMap((e) => [`- ${e.title}`, ...e.lines.map((l) => `    ${l}`)]) : [w.noEndpoints]), '',
    `${w.overdueTitle}:`, ...overdue.map((n) => `- ${n}`), '',
    `${w.outdatedTitle}:`, ...outdated.map((n) => `- ${n}`), '',
  ].join('\n');

  const h = escapeHtml;
  const section = (items: { title: string; lines: string[] }[]) =>
    `<ul>${items.map((i) => `<li><strong>${h(i.title)}</strong><br>${i.lines.map(h).join('<br>')}</li>`).join('')}</ul>`;
  const html = [
    `<!DOCTYPE html><html lang="${language}"><head><meta charset="utf-8"><title>${h(subject)}</title></head><body>`,
    `<h1>${h(subject)}</h1>`, `<p>${h(intro)}</p>`, `<p>${h(storage)}</p>`,
    `<h2>${h(w.spaces)}</h2>`, section(spaces),
    `<h2>${h(w.endpoints)}</h2>`, endpoints.length ? section(endpoints) : `<p>${h(w.noEndpoints)}</p>`,
    `<h2>${h(w.overdueTitle)}</h2>`, `<ul>${overdue.map((n) => `<li>${h(n)}</li>`).join('')}</ul>`,
    `<h2>${h(w.outdatedTitle)}</h2>`, `<ul>${outdated.map((n) => `<li>${h(n)}</li>`).join('')}</ul>`,
    '</body></html>',
  ].join('\n');
  return { subject, text, html };
}
