/**
 * Report periods (S4): the UTC calendar day, the ISO 8601 week (Monday to Sunday, UTC) or the
 * calendar month an instant falls in. A period's report is due once the period has ended, so the
 * period reported at `now` is the one before the period containing `now`. Pure: the clock is an
 * argument.
 */
export type ReportPeriodKind = 'Daily' | 'Weekly' | 'Monthly';

export interface ReportPeriod {
  kind: ReportPeriodKind;
  /** Stable id, also part of the record's name: 2026-12-03, 2026-w49, 2026-12. */
  id: string;
  /** First millisecond of the period (inclusive). */
  startMs: number;
  /** First millisecond after the period (exclusive). */
  endMs: number;
}

const DAY_MS = 86_400_000;
const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** The ISO week-numbering year and week of the day starting at `dayMs` (UTC midnight). */
function isoWeek(dayMs: number): { year: number; week: number; mondayMs: number } {
  const weekday = (new Date(dayMs).getUTCDay() + 6) % 7; // Monday 0 … Sunday 6
  const mondayMs = dayMs - weekday * DAY_MS;
  // The week belongs to the year its Thursday is in.
  const year = new Date(mondayMs + 3 * DAY_MS).getUTCFullYear();
  const jan4 = Date.UTC(year, 0, 4);
  const firstMondayMs = jan4 - ((new Date(jan4).getUTCDay() + 6) % 7) * DAY_MS;
  return { year, week: Math.round((mondayMs - firstMondayMs) / (7 * DAY_MS)) + 1, mondayMs };
}

/** The period of the given kind that contains the instant. */
export function periodContaining(kind: ReportPeriodKind, atMs: number): ReportPeriod {
  const at = new Date(atMs);
  const y = at.getUTCFullYear();
  const m = at.getUTCMonth();
  const dayMs = Date.UTC(y, m, at.getUTCDate());
  switch (kind) {
    case 'Daily':
      return { kind, id: `${y}-${pad(m + 1)}-${pad(at.getUTCDate())}`, startMs: dayMs, endMs: dayMs + DAY_MS };
    case 'Weekly': {
      const { year, week, mondayMs } = isoWeek(dayMs);
      return { kind, id: `${year}-w${pad(week)}`, startMs: mondayMs, endMs: mondayMs + 7 * DAY_MS };
    }
    case 'Monthly':
      return { kind, id: `${y}-${pad(m + 1)}`, startMs: Date.UTC(y, m, 1), endMs: Date.UTC(y, m + 1, 1) };
  }
}

/** The most recent period that has ended at `nowMs`: the one whose report is due. */
export function lastEndedPeriod(kind: ReportPeriodKind, nowMs: number): ReportPeriod {
  return periodContaining(kind, periodContaining(kind, nowMs).startMs - 1);
}

/**
 * The period to report for a tenant at `nowMs`, if any: the last ended one, unless it ended before
 * the tenant existed (a new tenant's first report covers its first whole or partial period).
 */
export function duePeriod(kind: ReportPeriodKind | 'Off', nowMs: number, tenantCreatedMs: number): ReportPeriod | undefined {
  if (kind === 'Off') return undefined;
  const period = lastEndedPeriod(kind, nowMs);
  return period.endMs > tenantCreatedMs ? period : undefined;
}
