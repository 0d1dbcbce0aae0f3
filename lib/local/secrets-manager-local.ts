// A local stand-in for the few AWS Secrets Manager operations the functions call at run time (a
// tenant's own Twilio credentials: CreateSecret, PutSecretValue, GetSecretValue, DescribeSecret,
// DeleteSecret), so the real SDK adapter runs unchanged in the twin through AWS_ENDPOINT_URL_SECRETS_MANAGER.
// It speaks the service's JSON 1.1 protocol (`X-Amz-Target: secretsmanager.<Operation>`, errors as
// `{"__type": "ResourceNotFoundException", "message": …}` with HTTP 400), does not check signatures,
// and keeps the secrets in DATA_DIR/secrets-manager.json (mode 0600) so they survive a restart.
// Source of the shapes: https://docs.aws.amazon.com/secretsmanager/latest/apireference/ (each operation's page).
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './aws-local.ts';
import { replacePrivateFile } from './data-dir.ts';

export const SECRETS_FILE = 'secrets-manager.json';

interface StoredSecret {
  readonly name: string;
  readonly arn: string;
  readonly description?: string;
  value: string;
  versionId: string;
  readonly createdAt: number;
}

export interface SecretsManagerLocal {
  readonly url: string;
  /** The names stored now (for tests: a secret's value is only read through the API). */
  names(): string[];
  stop(): Promise<void>;
}

type Answer = { status: number; body: Record<string, unknown> };
const fail = (type: string, message: string): Answer => ({ status: 400, body: { __type: type, message } });

export async function startSecretsManagerLocal(
  options: { dataDir?: string } = {},
): Promise<SecretsManagerLocal> {
  const file = options.dataDir ? path.join(options.dataDir, SECRETS_FILE) : undefined;
  const secrets = new Map<string, StoredSecret>(
    file && existsSync(file)
      ? (JSON.parse(readFileSync(file, 'utf8')) as StoredSecret[]).map((s) => [s.name, s])
      : [],
  );
  const save = () => {
    if (file) replacePrivateFile(file, `${JSON.stringify([...secrets.values()], null, 2)}\n`);
  };
  // A SecretId is the name or the ARN.
  const find = (id: unknown) =>
    typeof id === 'string' ? (secrets.get(id) ?? [...secrets.values()].find((s) => s.arn === id)) : undefined;
  const notFound = () =>
    fail('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");

  const operations: Record<string, (input: Record<string, unknown>) => Answer> = {
    CreateSecret: (input) => {
      const name = input.Name;
      if (typeof name !== 'string' || !/^[A-Za-z0-9/_+=.@-]{1,512}$/.test(name))
        return fail('InvalidParameterException', 'Invalid name.');
      if (secrets.has(name))
        return fail(
          'ResourceExistsException',
          `The operation failed because the secret ${name} already exists.`,
        );
      const secret: StoredSecret = {
        name,
        arn: `arn:aws:secretsmanager:${LOCAL_REGION}:${LOCAL_ACCOUNT}:secret:${name}-${randomBytes(3).toString('hex')}`,
        ...(typeof input.Description === 'string' ? { description: input.Description } : {}),
        value: String(input.SecretString ?? ''),
        versionId: randomUUID(),
        createdAt: Date.now() / 1000,
      };
      secrets.set(name, secret);
      save();
      return { status: 200, body: { ARN: secret.arn, Name: name, VersionId: secret.versionId } };
    },
    PutSecretValue: (input) => {
      const secret = find(input.SecretId);
      if (!secret) return notFound();
      secret.value = String(input.SecretString ?? '');
      secret.versionId = randomUUID();
      save();
      return { status: 200, body: { ARN: secret.arn, Name: secret.name, VersionId: secret.versionId } };
    },
    GetSecretValue: (input) => {
      const secret = find(input.SecretId);
      if (!secret) return notFound();
      return {
        status: 200,
        body: {
          ARN: secret.arn,
          Name: secret.name,
          VersionId: secret.versionId,
          SecretString: secret.value,
          VersionStages: ['AWSCURRENT'],
          CreatedDate: secret.createdAt,
        },
      };
    },
    DescribeSecret: (input) => {
      const secret = find(input.SecretId);
      if (!secret) return notFound();
      return { status: 200, body: { ARN: secret.arn, Name: secret.name, Description: secret.description } };
    },
    DeleteSecret: (input) => {
      const secret = find(input.SecretId);
      if (!secret) return notFound();
      // Only ForceDeleteWithoutRecovery is played: the secret is gone at once.
      secrets.delete(secret.name);
      save();
      return { status: 200, body: { ARN: secret.arn, Name: secret.name, DeletionDate: Date.now() / 1000 } };
    },
  };

  const server = createServer((req, res) => {
    void answer(req).then(({ status, body }) => {
      const payload = JSON.stringify(body);
      res.writeHead(status, {
        'Content-Type': 'application/x-amz-json-1.1',
        'Content-Length': Buffer.byteLength(payload),
        'x-amzn-RequestId': randomUUID(),
      });
      res.end(payload);
    });
  });

  async function answer(req: IncomingMessage): Promise<Answer> {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = operations[target.replace(/^secretsmanager\./, '')];
    if (!operation) return fail('InvalidRequestException', `Operation ${target} is not played locally.`);
    try {
      return operation(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>);
    } catch (error) {
      return fail('InvalidRequestException', String(error));
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    names: () => [...secrets.keys()],
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
