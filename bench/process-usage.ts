/** What a benchmarked process has used so far, read from /proc (Linux). */
import { readFile } from 'node:fs/promises';

/** Peak resident memory (VmHWM) of a process, in MiB. */
export async function peakRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** CPU seconds (user + system) a process has used. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  // Fields 14 and 15 of stat (utime, stime), counted after the command name: 12 and 13 here, in clock ticks of 1/100 s.
  return (Number(stat[11] ?? 0) + Number(stat[12] ?? 0)) / 100;
}
