import { chmodSync, lstatSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * DATA_DIR holds the twin's secrets (local-secrets.json: the simulator's auth token, the dev API
 * key) and every phone number it has seen (DynamoDB Local's and fauxqs' databases, the simulator's
 * log), so only its owner may read it: the directory 0700, the twin's files 0600.
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** What the twin keeps directly under DATA_DIR (directories are made private all the way down). */
export const TWIN_ENTRIES = [
  'local-secrets.json',
  'endpoints.json',
  // The function URLs' ports, taken again after a restart (messages name them in their callbacks).
  'function-urls.json',
  'twin.lock',
  'dynamodb.pid',
  'twilio-simulator.jsonl',
  'twilio-simulator-content.jsonl',
  'dynamodb',
  'sqs',
  's3',
  's3-notified.json',
  // The twin's EventBridge Scheduler: schedules hold campaign and broadcast ids, tenant ids.
  'scheduler.json',
  // The handlers' metrics (functions/commons/emf-metrics.ts): counts only, yet the user's.
  'metrics.jsonl',
  'metrics.jsonl.1',
  // The local event bus: lifecycle events (tenant ids, masked phones) and how far delivery got.
  'events.jsonl',
  'events-delivered.json',
] as const;

/**
 * Replaces `file`'s contents with `text`, owner-only (0600), so that whoever reads it, a restart
 * after a `kill -9` included, sees the old contents or the new, never a file cut short: written
 * beside it (`<file>.tmp`), then renamed over it (rename(2) is atomic on one filesystem). The twin's
 * state files (stream checkpoints, the bus's cursor, schedules) are rewritten many times a minute;
 * in place, a kill between the truncation and the write leaves one empty or cut short, which the
 * next start cannot parse. Throws what the write or the rename throws; `file` is then as it was
 * (a `<file>.tmp` may be left, and the next call replaces it).
 */
export function replacePrivateFile(file: string, text: string): void {
  const temp = `${file}.tmp`;
  writeFileSync(temp, text, { mode: PRIVATE_FILE_MODE });
  renameSync(temp, file);
}

/**
 * Creates DATA_DIR owner-only (0700), or makes an existing one so when it is this user's. A
 * directory with the sticky bit (a shared one, like /tmp) is left as it is: `warn` says why.
 */
export function ensurePrivateDataDir(dataDir: string, warn: (message: string) => void = () => {}): void {
  mkdirSync(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const stat = lstatSync(dataDir);
  if ((stat.mode & 0o077) === 0) return;
  if (stat.mode & 0o1000) {
    warn(
      `DATA_DIR ${dataDir} is a shared directory (sticky bit, like /tmp), so it stays readable by others: ` +
        'give the local twin a directory of its own.',
    );
    return;
  }
  if (typeof process.getuid === 'function' && stat.uid !== process.getuid()) {
    warn(`DATA_DIR ${dataDir} belongs to another user, so its permissions stay as they are.`);
    return;
  }
  chmodSync(dataDir, PRIVATE_DIR_MODE);
}

/**
 * Makes the twin's own entries under DATA_DIR owner-only: files 0600, directories 0700, all the
 * way down. For what an emulator created itself (DynamoDB Local's and fauxqs' database files) and
 * what an earlier version left readable. Only TWIN_ENTRIES are touched, never anything else a
 * user keeps there; symbolic links are not followed.
 */
export function restrictTwinFiles(dataDir: string): void {
  for (const entry of TWIN_ENTRIES) restrict(path.join(dataDir, entry));
}

function restrict(file: string): void {
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(file);
  } catch {
    return; // not there (yet)
  }
  if (stat.isSymbolicLink()) return;
  const wanted = stat.isDirectory() ? PRIVATE_DIR_MODE : PRIVATE_FILE_MODE;
  if ((stat.mode & 0o777) !== wanted) {
    try {
      chmodSync(file, wanted);
    } catch {
      // Another user's file, or it went away: nothing this user can change.
    }
  }
  if (stat.isDirectory()) for (const child of readdirSync(file)) restrict(path.join(file, child));
}
