/**
 * CPU time of this process, of its Java child (DynamoDB Local) and of the Twilio simulator's process,
 * to tell which one a figure was waiting on. Linux only (/proc); elsewhere the children read as unknown.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Linux's USER_HZ: /proc times are in these ticks. */
const TICKS_PER_SECOND = 100;

export interface CpuSample {
  readonly at: number;
  readonly nodeMs: number;
  readonly javaMs: number | null;
  readonly simulatorMs: number | null;
}

export interface CpuShare {
  /** Cores busy on average over the interval (2.0 = both cores of a 2-core box). */
  readonly nodeCores: number;
  readonly dynamodbLocalCores: number | null;
  /** The Twilio simulator's process (bench/simulator-child.ts): Twilio's side, not ours. */
  readonly simulatorCores: number | null;
}

export function sampleCpu(simulatorPid?: number): CpuSample {
  const usage = process.cpuUsage();
  return {
    at: performance.now(),
    nodeMs: (usage.user + usage.system) / 1000,
    javaMs: javaChildCpuMs(),
    simulatorMs: simulatorPid ? processCpuMs(simulatorPid) : null,
  };
}

export function cpuShare(from: CpuSample, to: CpuSample): CpuShare {
  const wallMs = Math.max(1, to.at - from.at);
  return {
    nodeCores: (to.nodeMs - from.nodeMs) / wallMs,
    dynamodbLocalCores:
      from.javaMs === null || to.javaMs === null ? null : (to.javaMs - from.javaMs) / wallMs,
    simulatorCores:
      from.simulatorMs === null || to.simulatorMs === null
        ? null
        : (to.simulatorMs - from.simulatorMs) / wallMs,
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
      const { comm, ppid, cpuMs } = parseStat(stat);
      if (comm !== 'java' || ppid !== process.pid) continue;
      found = true;
      total += cpuMs;
    }
    return found ? total : null;
  } catch {
    return null;
  }
}

/** utime + stime of one process. */
function processCpuMs(pid: number): number | null {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).cpuMs;
  } catch {
    return null;
  }
}

/** `pid (comm) state ppid … utime stime`: comm may hold spaces, so split after its ')'. */
function parseStat(stat: string): { comm: string; ppid: number; cpuMs: number } {
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ');
  return {
    comm: stat.slice(stat.indexOf('(') + 1, close),
    ppid: Number(fields[1]),
    cpuMs: ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND,
  };
}
