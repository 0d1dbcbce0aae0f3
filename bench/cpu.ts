/**
 * CPU time of this process and of its Java child (DynamoDB Local), to tell which one a figure was
 * waiting on. Linux only (/proc); elsewhere the Java side reads as unknown.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Linux's USER_HZ: /proc times are in these ticks. */
const TICKS_PER_SECOND = 100;

export interface CpuSample {
  readonly at: number;
  readonly nodeMs: number;
  readonly javaMs: number | null;
}

export interface CpuShare {
  /** Cores busy on average over the interval (2.0 = both cores of a 2-core box). */
  readonly nodeCores: number;
  readonly dynamodbLocalCores: number | null;
}

export function sampleCpu(): CpuSample {
  const usage = process.cpuUsage();
  return { at: performance.now(), nodeMs: (usage.user + usage.system) / 1000, javaMs: javaChildCpuMs() };
}

export function cpuShare(from: CpuSample, to: CpuSample): CpuShare {
  const wallMs = Math.max(1, to.at - from.at);
  return {
    nodeCores: (to.nodeMs - from.nodeMs) / wallMs,
    dynamodbLocalCores:
      from.javaMs === null || to.javaMs === null ? null : (to.javaMs - from.javaMs) / wallMs,
  };
}

/** utime + stime of the java processes whose parent is this one. */
function javaChildCpuMs(): number | null {
  try {
    let total = 0;
    let found = false;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue;
      }
      // pid (comm) state ppid … utime stime: comm may hold spaces, so split after its ')'.
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      if (comm !== 'java' || Number(fields[1]) !== process.pid) continue;
      found = true;
      total += ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
    }
    return found ? total : null;
  } catch {
    return null;
  }
}
