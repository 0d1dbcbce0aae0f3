import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { FileChangedError, type ImportFiles, type ImportFileWriter } from '../core/imports.ts';

/** The media type import files are stored with (RFC 4180 registers text/csv). */
export const CSV_CONTENT_TYPE = 'text/csv';

/**
 * The uploads bucket: presigned upload URLs, and the import files the create route writes and the
 * worker reads (ranged, and pinned to one version of the object by its ETag).
 *
 * The client must be made with `requestChecksumCalculation: 'WHEN_REQUIRED'`: otherwise SDK v3
 * (3.729 on) signs a CRC32 of the empty body into every presigned PUT URL (`x-amz-checksum-crc32=
 * AAAAAA==`), and S3 refuses the real file for its checksum (aws-sdk-js-v3 default integrity
 * protections; seaweedfs issue 10216 shows the failure).
 */
export class S3Files implements ImportFiles, ImportFileWriter {
  readonly #s3: S3Client;
  readonly #bucket: string;

  constructor(s3: S3Client, bucket: string) {
    this.#s3 = s3;
    this.#bucket = bucket;
  }

  get bucket(): string {
    return this.#bucket;
  }

  async head(key: string): Promise<{ bytes: number; etag: string } | undefined> {
    try {
      const head = await this.#s3.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }));
      return { bytes: Number(head.ContentLength ?? 0), etag: String(head.ETag ?? '') };
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async read(
    key: string,
    range: { start: number; end?: number; etag?: string },
  ): Promise<AsyncIterable<Uint8Array>> {
    if (range.end !== undefined && range.end <= range.start) return Readable.from([]);
    try {
      const { Body } = await this.#s3.send(
        new GetObjectCommand({
          Bucket: this.#bucket,
          Key: key,
          Range: `bytes=${range.start}-${range.end !== undefined ? range.end - 1 : ''}`,
          ...(range.etag ? { IfMatch: range.etag } : {}),
        }),
      );
      if (!Body) return Readable.from([]);
      return Body as Readable;
    } catch (error) {
      if (isStatus(error, 412)) throw new FileChangedError(key);
      // A range that starts at the object's end (a file with a header and no rows).
      if (isStatus(error, 416)) return Readable.from([]);
      throw error;
    }
  }

  async readStart(key: string, bytes: number): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of await this.read(key, { start: 0, end: bytes })) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    await this.#s3.send(
      new PutObjectCommand({
        Bucket: this.#bucket,
        Key: key,
        Body: body,
        ContentType: `${CSV_CONTENT_TYPE}; charset=utf-8`,
      }),
    );
  }

  async copy(from: string, to: string): Promise<void> {
    await this.#s3.send(
      new CopyObjectCommand({
        Bucket: this.#bucket,
        Key: to,
        CopySource: `${this.#bucket}/${from.split('/').map(encodeURIComponent).join('/')}`,
        ContentType: `${CSV_CONTENT_TYPE}; charset=utf-8`,
        MetadataDirective: 'REPLACE',
      }),
    );
  }

  async delete(key: string): Promise<void> {
    await this.#s3.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: key }));
  }

  /**
   * A presigned PUT for `key`, valid `expiresInSeconds`. `Content-Type: text/csv` is signed, and so
   * is `Content-Length` when given: S3 then refuses an upload of any other size or type (403
   * SignatureDoesNotMatch), which is how a PUT URL caps a size (a PUT has no content-length-range
   * condition; only POST policies do). The client must send exactly `headers`.
   */
  async presignPut(
    key: string,
    options: { expiresInSeconds: number; contentLength?: number },
  ): Promise<{ url: string; headers: Record<string, string> }> {
    const headers: Record<string, string> = { 'Content-Type': CSV_CONTENT_TYPE };
    if (options.contentLength !== undefined) headers['Content-Length'] = String(options.contentLength);
    const url = await getSignedUrl(
      this.#s3,
      new PutObjectCommand({
        Bucket: this.#bucket,
        Key: key,
        ContentType: CSV_CONTENT_TYPE,
        ...(options.contentLength !== undefined ? { ContentLength: options.contentLength } : {}),
      }),
      {
        expiresIn: options.expiresInSeconds,
        signableHeaders: new Set([
          'content-type',
          ...(options.contentLength !== undefined ? ['content-length'] : []),
        ]),
      },
    );
    return { url, headers };
  }
}

function isStatus(error: unknown, status: number): boolean {
  return error instanceof S3ServiceException && error.$metadata?.httpStatusCode === status;
}
