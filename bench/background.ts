import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { readFileSync } from 'node:fs';
import { processTree } from './big-upload.js';

// How busy the machine was with work that is not the bench's: CPU time of the whole machine
// (/proc/stat) minus that of the registries' process trees and of the bench itself with the
// clients it ran and waited for (wrk, skopeo: cutime/cstime). A benchmark on a shared machine
// says how much else ran beside it.

const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

interface Sample {
  at: number;
  machineBusy: number;
  ours: number;
}

/** utime + stime + cutime + cstime of a process, in clock ticks (0 if it is gone). */
function processTicks(pid: number | 'self'): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After "pid (comm) ", fields[0] is the state (field 3); utime is field 14.
    return [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i] ?? 0), 0);
  } catch {
    return 0;
  }
}

function machineBusyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return [user, nice, system, irq, softirq, steal].reduce<number>((sum, n) => sum + (n ?? 0), 0);
}

function sample(serverPids: number[]): Sample {
  const ours =
    processTicks('self') +
    serverPids.flatMap((pid) => processTree(pid)).reduce((s, p) => s + processTicks(p), 0);
  return { at: performance.now(), machineBusy: machineBusyTicks(), ours };
}

export class BackgroundLoad {
  private readonly serverPids: number[];
  private readonly shares = new Map<string, number>();

  constructor(serverPids: number[]) {
    this.serverPids = serverPids;
  }

  /** Runs `work` and records the share of the machine's CPU that other processes used meanwhile. */
  async during<T>(name: string, work: () => Promise<T>): Promise<T> {
    const before = sample(this.serverPids);
    const result = await work();
    const after = sample(this.serverPids);
    const foreign = Math.max(0, after.machineBusy - before.machineBusy - (after.ours - before.ours));
    const capacity = ((after.at - before.at) / 1000) * TICKS_PER_SECOND * cpus().length;
    this.shares.set(name, capacity > 0 ? foreign / capacity : 0);
    return result;
  }

  /** Share (0..1) of the machine's CPU used by other processes, per measurement. */
  summary(): Map<string, number> {
    return this.shares;
  }
}
