import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Page } from '../core/audience.ts';
import { decodeItemCursor, encodeItemCursor } from '../core/cursor.ts';
import type { RowError } from '../core/import-rows.ts';
import { type ImportCounts, ZERO_COUNTS } from '../core/import-tally.ts';
import {
  type CreateImportOutcome,
  IMPORT_IDEMPOTENCY_SECONDS,
  IMPORT_RECORD_DAYS,
  type ImportCheckpoint,
  type ImportFailure,
  type ImportFileInfo,
  type ImportIdempotency,
  type ImportJob,
  type ImportLease,
  ImportLeaseLostError,
  type ImportStore,
  UPLOAD_RETENTION_DAYS,
  type Upload,
} from '../core/imports.ts';
import { type Item, isConditionFailure, strip, type TransactItems, transactWrite } from './dynamo-items.ts';

/**
 * Contact imports and uploads on the main table (pk / sk):
 *
 *   TENANT#<t>           IMPORT#<importId>        the import: options, file, counts, checkpoint, lease
 *   TENANT#<t>           IMPORTERRORS#<importId>  its first 100 row errors (rewritten only while they grow)
 *   TENANT#<t>           UPLOAD#<uploadId>        an upload slot, and the import that used it
 *   IMPIDEM#<t>#<hash>   IDEM                     an import's Idempotency-Key (24 h)
 *
 * The row errors have their own item so that a checkpoint, written after every batch of 100 rows,
 * stays a 1 KB write: the errors item (up to ~10 KB) is written with a checkpoint only while it
 * grows, in one transaction with it. A tenant's imports are listed newest first with one Query
 * (ids are ULIDs); `IMPORTERRORS#` does not begin with `IMPORT#`, so the list never reads them.
 *
 * The lease: `leaseToken` and `leaseUntil` (epoch milliseconds). A claim is a conditional write that
 * succeeds only while the import runs and nobody holds a live lease; every later write of the worker
 * is conditional on its token, so a worker whose lease ran out (and was taken over) writes nothing.
 */
const partition = (tenantId: string) => `TENANT#${tenantId}`;
const importKey = (tenantId: string, importId: string) => ({
  pk: partition(tenantId),
  sk: `IMPORT#${importId}`,
});
const errorsKey = (tenantId: string, importId: string) => ({
  pk: partition(tenantId),
  sk: `IMPORTERRORS#${importId}`,
});
const uploadKey = (tenantId: string, uploadId: string) => ({
  pk: partition(tenantId),
  sk: `UPLOAD#${uploadId}`,
});
const idemKey = (tenantId: string, key: string) => ({ pk: `IMPIDEM#${tenantId}#${key}`, sk: 'IDEM' });
const IMPORT_SK = /^IMPORT#imp_[0-9A-HJKMNP-TV-Z]{26}$/;

const epochSeconds = (at: Date) => Math.floor(at.getTime() / 1000);
const DAY_SECONDS = 86_400;

export class DynamoImports implements ImportStore {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(db: DynamoDBDocumentClient, table: string) {
    this.#db = db;
    this.#table = table;
  }

  async create(
    job: ImportJob,
    links: { upload?: { uploadId: string }; idempotency?: ImportIdempotency; now: Date },
  ): Promise<CreateImportOutcome> {
    const { tenantId, importId } = job;
    const items: TransactItems = [
      {
        Put: {
          TableName: this.#table,
          Item: { ...importKey(tenantId, importId), ...toItem(job) },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      { Put: { TableName: this.#table, Item: { ...errorsKey(tenantId, importId), errors: [] } } },
    ];
    if (links.upload)
      items.push({
        Update: {
          TableName: this.#table,
          Key: uploadKey(tenantId, links.upload.uploadId),
          UpdateExpression: 'SET importId = :id',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(importId)',
          ExpressionAttributeValues: { ':id': importId },
        },
      });
    if (links.idempotency)
      items.push({
        Put: {
          TableName: this.#table,
          Item: {
            ...idemKey(tenantId, links.idempotency.key),
            importId,
            fingerprint: links.idempotency.fingerprint,
            expiresAt: epochSeconds(links.now) + IMPORT_IDEMPOTENCY_SECONDS,
          },
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :now',
          ExpressionAttributeValues: { ':now': epochSeconds(links.now) },
        },
      });
    const result = await transactWrite(this.#db, items);
    if (result.written) return { created: true };
    const idemAt = links.upload ? 3 : 2;
    if (links.idempotency && result.failed[idemAt]) {
      const existing = await this.idempotency(tenantId, links.idempotency.key, links.now);
      if (existing) return { created: false, idempotent: existing };
    }
    if (links.upload && result.failed[2]) {
      const upload = await this.getUpload(tenantId, links.upload.uploadId);
      if (upload?.importId) return { created: false, uploadUsedBy: upload.importId };
    }
    throw new Error(
      `import ${importId} could not be created (a condition failed: ${result.failed.join(',')})`,
    );
  }

  async discard(
    job: ImportJob,
    links: { upload?: { uploadId: string }; idempotency?: ImportIdempotency },
  ): Promise<void> {
    const { tenantId, importId } = job;
    const items: TransactItems = [
      { Delete: { TableName: this.#table, Key: importKey(tenantId, importId) } },
      { Delete: { TableName: this.#table, Key: errorsKey(tenantId, importId) } },
    ];
    if (links.upload)
      items.push({
        Update: {
          TableName: this.#table,
          Key: uploadKey(tenantId, links.upload.uploadId),
          UpdateExpression: 'REMOVE importId',
          ConditionExpression: 'importId = :id',
          ExpressionAttributeValues: { ':id': importId },
        },
      });
    if (links.idempotency)
      items.push({
        Delete: {
          TableName: this.#table,
          Key: idemKey(tenantId, links.idempotency.key),
          ConditionExpression: 'importId = :id',
          ExpressionAttributeValues: { ':id': importId },
        },
      });
    await transactWrite(this.#db, items);
  }

  async get(tenantId: string, importId: string): Promise<ImportJob | undefined> {
    const [job, errors] = await Promise.all([
      this.#get(importKey(tenantId, importId)),
      this.#get(errorsKey(tenantId, importId)),
    ]);
    return job ? fromItem(job, (errors?.errors as RowError[] | undefined) ?? []) : undefined;
  }

  async list(tenantId: string, page: { limit: number; cursor?: string }): Promise<Page<ImportJob>> {
    const pk = partition(tenantId);
    const start = page.cursor ? decodeItemCursor('imports', page.cursor, { pk, sk: IMPORT_SK }) : undefined;
    const result = await this.#db.send(
      new QueryCommand({
        TableName: this.#table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': pk, ':prefix': 'IMPORT#' },
        ScanIndexForward: false,
        Limit: page.limit + 1,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    const items = (result.Items ?? []).map((item) => fromItem(item, []));
    const more = items.length > page.limit;
    const shown = items.slice(0, page.limit);
    const last = shown.at(-1);
    return {
      items: shown,
      ...(more && last
        ? { nextCursor: encodeItemCursor('imports', importKey(tenantId, last.importId)) }
        : {}),
    };
  }

  async idempotency(tenantId: string, key: string, now: Date) {
    const item = await this.#get(idemKey(tenantId, key));
    if (!item || Number(item.expiresAt) <= epochSeconds(now)) return undefined;
    return { importId: String(item.importId), fingerprint: String(item.fingerprint) };
  }

  async createUpload(upload: Upload): Promise<void> {
    const expires = Math.floor(Date.parse(upload.expiresAt) / 1000) + UPLOAD_RETENTION_DAYS * DAY_SECONDS;
    await this.#db.send(
      new PutCommand({
        TableName: this.#table,
        Item: {
          ...uploadKey(upload.tenantId, upload.uploadId),
          tenantId: upload.tenantId,
          uploadId: upload.uploadId,
          createdAt: upload.createdAt,
          urlExpiresAt: upload.expiresAt,
          ...(upload.contentLength !== undefined ? { contentLength: upload.contentLength } : {}),
          // The upload's record goes when its file does (the bucket's lifecycle rule).
          expiresAt: expires,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async getUpload(tenantId: string, uploadId: string): Promise<Upload | undefined> {
    const item = await this.#get(uploadKey(tenantId, uploadId));
    if (!item) return undefined;
    return {
      tenantId: String(item.tenantId),
      uploadId: String(item.uploadId),
      createdAt: String(item.createdAt),
      expiresAt: String(item.urlExpiresAt),
      ...(item.contentLength !== undefined ? { contentLength: Number(item.contentLength) } : {}),
      ...(item.importId !== undefined ? { importId: String(item.importId) } : {}),
    };
  }

  async claim(
    tenantId: string,
    importId: string,
    lease: ImportLease,
    now: Date,
  ): Promise<ImportJob | undefined> {
    try {
      const { Attributes } = await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: importKey(tenantId, importId),
          UpdateExpression:
            'SET leaseToken = :token, leaseUntil = :until, updatedAt = :at, startedAt = if_not_exists(startedAt, :at) ADD invocations :one',
          ConditionExpression:
            'attribute_exists(pk) AND #status = :running AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':token': lease.token,
            ':until': lease.until.getTime(),
            ':at': now.toISOString(),
            ':one': 1,
            ':running': 'running',
            ':now': now.getTime(),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const errors = await this.#get(errorsKey(tenantId, importId));
      return Attributes ? fromItem(Attributes, (errors?.errors as RowError[] | undefined) ?? []) : undefined;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async fileChecked(job: ImportJob, lease: ImportLease, file: ImportFileInfo, totalRows: number, now: Date) {
    const checkpoint: ImportCheckpoint = { offset: file.dataOffset, row: 0, line: file.dataLine };
    await this.#leased(job, lease, {
      UpdateExpression:
        'SET #file = :file, totalRows = :total, phase = :importing, #checkpoint = :checkpoint, updatedAt = :at',
      ExpressionAttributeNames: { '#file': 'file', '#checkpoint': 'checkpoint' },
      ExpressionAttributeValues: {
        ':file': file,
        ':total': totalRows,
        ':importing': 'importing',
        ':checkpoint': checkpoint,
        ':at': now.toISOString(),
      },
    });
  }

  async checkpoint(
    job: ImportJob,
    lease: ImportLease,
    at: { checkpoint: ImportCheckpoint; counts: ImportCounts; errors?: readonly RowError[] },
    now: Date,
  ): Promise<void> {
    const update = {
      UpdateExpression: 'SET #checkpoint = :checkpoint, #counts = :counts, updatedAt = :at',
      ExpressionAttributeNames: { '#checkpoint': 'checkpoint', '#counts': 'counts' },
      ExpressionAttributeValues: {
        ':checkpoint': at.checkpoint,
        ':counts': at.counts,
        ':at': now.toISOString(),
      },
    };
    if (!at.errors) return this.#leased(job, lease, update);
    const result = await transactWrite(this.#db, [
      {
        Update: {
          TableName: this.#table,
          Key: importKey(job.tenantId, job.importId),
          ...leaseCondition(lease, update),
        },
      },
      {
        Put: {
          TableName: this.#table,
          Item: { ...errorsKey(job.tenantId, job.importId), errors: at.errors },
        },
      },
    ]);
    if (!result.written) throw new ImportLeaseLostError(job.importId);
  }

  async release(job: ImportJob, lease: ImportLease): Promise<void> {
    try {
      await this.#leased(job, lease, { UpdateExpression: 'REMOVE leaseToken, leaseUntil' });
    } catch (error) {
      if (!(error instanceof ImportLeaseLostError)) throw error;
    }
  }

  async finish(
    job: ImportJob,
    lease: ImportLease,
    outcome: { status: 'completed' } | { status: 'failed'; failure: ImportFailure },
    now: Date,
  ): Promise<void> {
    // The record and its errors (which quote the file) go IMPORT_RECORD_DAYS after the end.
    const expiresAt = epochSeconds(now) + IMPORT_RECORD_DAYS * DAY_SECONDS;
    const update = {
      UpdateExpression: `SET #status = :status, completedAt = :at, updatedAt = :at, expiresAt = :expires${
        outcome.status === 'failed' ? ', failure = :failure' : ''
      } REMOVE leaseToken, leaseUntil`,
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':status': outcome.status,
        ':at': now.toISOString(),
        ':expires': expiresAt,
        ...(outcome.status === 'failed' ? { ':failure': outcome.failure } : {}),
      },
    };
    const result = await transactWrite(this.#db, [
      {
        Update: {
          TableName: this.#table,
          Key: importKey(job.tenantId, job.importId),
          ...leaseCondition(lease, update),
        },
      },
      {
        Update: {
          TableName: this.#table,
          Key: errorsKey(job.tenantId, job.importId),
          UpdateExpression: 'SET expiresAt = :expires',
          ExpressionAttributeValues: { ':expires': expiresAt },
        },
      },
    ]);
    if (!result.written) throw new ImportLeaseLostError(job.importId);
  }

  /** An update of the import that holds only while `lease` is the live one. */
  async #leased(
    job: ImportJob,
    lease: ImportLease,
    update: {
      UpdateExpression: string;
      ExpressionAttributeNames?: Record<string, string>;
      ExpressionAttributeValues?: Record<string, unknown>;
    },
  ): Promise<void> {
    try {
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: importKey(job.tenantId, job.importId),
          ...leaseCondition(lease, update),
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) throw new ImportLeaseLostError(job.importId);
      throw error;
    }
  }

  async #get(key: Item): Promise<Item | undefined> {
    const { Item } = await this.#db.send(
      new GetCommand({ TableName: this.#table, Key: key, ConsistentRead: true }),
    );
    return Item;
  }
}

function leaseCondition(
  lease: ImportLease,
  update: {
    UpdateExpression: string;
    ExpressionAttributeNames?: Record<string, string>;
    ExpressionAttributeValues?: Record<string, unknown>;
  },
) {
  return {
    UpdateExpression: update.UpdateExpression,
    ConditionExpression: 'leaseToken = :leaseToken',
    ...(update.ExpressionAttributeNames ? { ExpressionAttributeNames: update.ExpressionAttributeNames } : {}),
    ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ':leaseToken': lease.token },
  };
}

function toItem(job: ImportJob): Item {
  return {
    tenantId: job.tenantId,
    importId: job.importId,
    status: job.status,
    phase: job.phase,
    source: job.source,
    ...(job.uploadId ? { uploadId: job.uploadId } : {}),
    options: job.options,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    counts: job.counts,
    invocations: job.invocations,
  };
}

function fromItem(raw: Item, errors: readonly RowError[]): ImportJob {
  const item = strip(raw);
  return {
    tenantId: String(item.tenantId),
    importId: String(item.importId),
    status: item.status as ImportJob['status'],
    phase: item.phase as ImportJob['phase'],
    source: item.source as ImportJob['source'],
    ...(item.uploadId !== undefined ? { uploadId: String(item.uploadId) } : {}),
    options: item.options as ImportJob['options'],
    createdAt: String(item.createdAt),
    updatedAt: String(item.updatedAt),
    ...(item.startedAt !== undefined ? { startedAt: String(item.startedAt) } : {}),
    ...(item.completedAt !== undefined ? { completedAt: String(item.completedAt) } : {}),
    ...(item.file !== undefined ? { file: item.file as ImportFileInfo } : {}),
    ...(item.totalRows !== undefined ? { totalRows: Number(item.totalRows) } : {}),
    counts: (item.counts as ImportCounts | undefined) ?? ZERO_COUNTS,
    ...(item.checkpoint !== undefined ? { checkpoint: item.checkpoint as ImportCheckpoint } : {}),
    errors,
    ...(item.failure !== undefined ? { failure: item.failure as ImportFailure } : {}),
    invocations: Number(item.invocations ?? 0),
  };
}
