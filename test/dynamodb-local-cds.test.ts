import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local.ts';
import { startDynamoDbLocal } from '../lib/local/dynamodb-local.ts';
import { withoutClassPath } from '../lib/local/dynamodb-local-cds.ts';
import { fileTempDir } from './support/temp-dir.ts';

/** DynamoDB Local's class-data sharing archive (lib/local/dynamodb-local-cds.ts). */

describe('the manifest copy', () => {
  it('drops Class-Path with its continuation lines and keeps every other attribute', () => {
    const original = [
      'Manifest-Version: 1.0',
      'Main-Class: software.amazon.dynamodb.services.local.main.ServerRunner',
      'Class-Path: . log4j2.xml DynamoDBLocal_lib/a.jar DynamoDBLocal_lib/b',
      ' c.jar DynamoDBLocal_lib/d.jar',
      'Bundle-License: DynamoDB Local License Agreement (classpath:LICENSE.tx',
      ' t)',
      '',
    ].join('\r\n');
    const { manifest, classPath } = withoutClassPath(original);
    expect(classPath).toEqual([
      '.',
      'log4j2.xml',
      'DynamoDBLocal_lib/a.jar',
      'DynamoDBLocal_lib/bc.jar',
      'DynamoDBLocal_lib/d.jar',
    ]);
    expect(manifest).toBe(
      [
        'Manifest-Version: 1.0',
        'Main-Class: software.amazon.dynamodb.services.local.main.ServerRunner',
        'Bundle-License: DynamoDB Local License Agreement (classpath:LICENSE.tx',
        ' t)',
        '',
      ].join('\n'),
    );
  });
});

describe('a start with the archive', () => {
  it('the first start records it at its stop; the next maps it, and DynamoDB Local answers', async () => {
    const archiveDir = fileTempDir('cds-');
    const first = await startDynamoDbLocal({
      dataDir: fileTempDir('cds-data-'),
      classArchiveDir: archiveDir,
    });
    await expect(answers(first.endpoint)).resolves.toBe(true);
    expect(commandLine(first.pid)).toContain(`-XX:ArchiveClassesAtExit=`);
    await first.stop();

    const [dir] = readdirSync(archiveDir).filter((name) => name.startsWith('dynamodb-local-cds-'));
    const archive = path.join(archiveDir, dir as string, 'dynamodb-local.jsa');
    expect(existsSync(archive), 'the archive after the first stop').toBe(true);
    // No class path entry is a directory: Java refuses an archive otherwise.
    const classPath = readFileSync(path.join(archiveDir, dir as string, 'class-path.txt'), 'utf8');
    for (const entry of classPath.split(path.delimiter)) expect(entry).toMatch(/\.jar$/);

    const second = await startDynamoDbLocal({
      dataDir: fileTempDir('cds-data-'),
      classArchiveDir: archiveDir,
    });
    try {
      expect(commandLine(second.pid)).toContain(`-XX:SharedArchiveFile=${archive}`);
      await expect(answers(second.endpoint)).resolves.toBe(true);
    } finally {
      await second.stop();
    }
    // -Xshare:on makes a JVM that cannot map the archive for this class path fail instead of
    // running without it, as the starts do.
    await expect(
      promisify(execFile)('java', [
        '-Xshare:on',
        `-XX:SharedArchiveFile=${archive}`,
        '-cp',
        classPath,
        '-version',
      ]),
    ).resolves.toBeDefined();
  }, 60_000);
});

async function answers(endpoint: string): Promise<boolean> {
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    await client.send(new ListTablesCommand({}));
    return true;
  } finally {
    client.destroy();
  }
}

function commandLine(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
}
