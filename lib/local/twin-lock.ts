import { linkSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, uptime } from 'node:os';
import path from 'node:path';
import { PRIVATE_FILE_MODE } from './data-dir.ts';

/** Who holds DATA_DIR/twin.lock: what the file holds (JSON). */
export interface TwinLockOwner {
  readonly pid: number;
  /** ISO 8601. */
  readonly startedAt: string;
  readonly hostname: string;
}

export interface TwinLock {
  readonly file: string;
  /**
   * True when this start took over a stale lock (its process is gone: a crash, a reboot, a
   * `kill -9`), so whatever that run left behind may be cleaned up.
   */
  readonly tookOver: boolean;
  /** The stale lock's owner, when it could be read. */
  readonly previousOwner?: TwinLockOwner;
  /** Removes the lock, if it is still this process's. */
  release(): void;
}

/** Another local twin runs on this DATA_DIR: the second start stops here, touching nothing of the first. */
export class TwinLockedError extends Error {
  readonly owner: TwinLockOwner | undefined;
  constructor(dataDir: string, file: string, owner: TwinLockOwner | undefined, detail?: string) {
    const who = owner
      ? `PID ${owner.pid}${owner.hostname !== hostname() ? ` on host ${owner.hostname}` : ''}, started ${owner.startedAt}`
      : 'its owner could not be read';
    super(
      `Another local twin is already running on DATA_DIR ${dataDir} (${who}).\n` +
        (detail ? `${detail}\n` : '') +
        `Stop it first (Ctrl-C in its terminal${owner && owner.hostname === hostname() ? `, or: kill ${owner.pid}` : ''}), ` +
        `or give this one its own data: DATA_DIR=/some/other/dir npm start\n` +
        `If you are sure no twin uses ${dataDir}, delete ${file}.`,
    );
    this.name = 'TwinLockedError';
    this.owner = owner;
  }
}

const LOCK_FILE = 'twin.lock';
/** A takeover that holds its guard longer than this crashed while taking over. */
const TAKEOVER_GUARD_STALE_MS = 10_000;
const TAKEOVER_WAIT_MS = 2_000;

/**
 * Takes DATA_DIR/twin.lock for this process: `{ pid, startedAt, hostname }`, mode 0600.
 *
 * - No lock: created atomically (written aside, then hard-linked into place, so nobody ever reads
 *   a half-written lock).
 * - A lock whose process is gone (a crash, a reboot, a `kill -9`), or that cannot be parsed:
 *   taken over (`tookOver`, `previousOwner`). Only one of several starts racing for a stale lock wins (a guard file serialises
 *   the takeovers); the others then find a live owner.
 * - A lock whose process runs (or on another host, where that cannot be told): TwinLockedError.
 */
export async function acquireTwinLock(dataDir: string, now: Date = new Date()): Promise<TwinLock> {
  const file = path.join(dataDir, LOCK_FILE);
  const me: TwinLockOwner = { pid: process.pid, startedAt: now.toISOString(), hostname: hostname() };
  const mine = `${JSON.stringify(me)}\n`;
  const draft = `${file}.${process.pid}.tmp`;
  writeFileSync(draft, mine, { mode: PRIVATE_FILE_MODE });
  const lock = (tookOver: boolean, previousOwner?: TwinLockOwner): TwinLock => ({
    file,
    tookOver,
    ...(previousOwner ? { previousOwner } : {}),
    release: () => {
      if (readRaw(file) === mine) rmSync(file, { force: true });
    },
  });
  try {
    const deadline = Date.now() + TAKEOVER_WAIT_MS;
    for (;;) {
      try {
        linkSync(draft, file);
        return lock(false);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const seen = readRaw(file);
      if (seen === undefined) continue; // released meanwhile: try again
      const owner = parseOwner(seen);
      if (owner && isRunning(owner)) throw new TwinLockedError(dataDir, file, owner);
      const took = takeOver(file, seen, draft);
      if (took === 'taken') return lock(true, owner);
      if (Date.now() > deadline)
        throw new TwinLockedError(
          dataDir,
          file,
          owner,
          'Another start is taking over its stale lock right now.',
        );
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    rmSync(draft, { force: true });
  }
}

/** Replaces the stale lock `seen` with ours, if nobody else changed it meanwhile. */
function takeOver(file: string, seen: string, draft: string): 'taken' | 'busy' {
  const guard = `${file}.takeover`;
  try {
    writeFileSync(guard, String(process.pid), { flag: 'wx', mode: PRIVATE_FILE_MODE });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    try {
      if (Date.now() - statSync(guard).mtimeMs > TAKEOVER_GUARD_STALE_MS) rmSync(guard, { force: true });
    } catch {
      // Gone already.
    }
    return 'busy';
  }
  try {
    if (readRaw(file) !== seen) return 'busy';
    renameSync(draft, file);
    return 'taken';
  } finally {
    rmSync(guard, { force: true });
  }
}

/** The file's text; undefined when there is no such file (any other error is thrown). */
function readRaw(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function parseOwner(raw: string): TwinLockOwner | undefined {
  try {
    const value = JSON.parse(raw) as Partial<TwinLockOwner>;
    if (
      Number.isInteger(value.pid) &&
      typeof value.startedAt === 'string' &&
      typeof value.hostname === 'string'
    )
      return value as TwinLockOwner;
  } catch {
    // Unreadable: nobody can be shown to own it, so it is stale.
  }
  return undefined;
}

/** Whether the owner's process still runs; on another host it cannot be told, so it counts as running. */
function isRunning(owner: TwinLockOwner): boolean {
  if (owner.hostname !== hostname()) return true;
  // Started before this machine booted: whatever has its PID now is another process.
  if (Date.parse(owner.startedAt) < Date.now() - uptime() * 1000) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // The PID may have been reused since a crash; the twin runs under Node (Linux can tell, elsewhere assume it).
  try {
    return readFileSync(`/proc/${owner.pid}/cmdline`, 'utf8').includes('node');
  } catch {
    return true;
  }
}

/** The twin running on DATA_DIR, if one is (its lock's owner still runs), for commands that talk to it. */
export function runningTwin(dataDir: string): TwinLockOwner | undefined {
  const raw = readRaw(path.join(dataDir, LOCK_FILE));
  const owner = raw === undefined ? undefined : parseOwner(raw);
  return owner && isRunning(owner) ? owner : undefined;
}
