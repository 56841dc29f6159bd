import type { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { take } from './s3-segments.js';

// The parts of one multipart upload, in order: bytes streamed into a part buffer (sent whenever it
// is full), or ranges of stored objects copied by the server. s3-driver.ts decides which.

const MAX_PARTS = 10_000;

export interface MultipartTarget {
  client: S3Client;
  bucket: string;
  key: string;
  uploadId: string;
  /** Bytes per streamed part (multipart_chunk_size). */
  partSize: number;
  /** S3's maximum size of one part. */
  maxPart: number;
  /** A stored object's bytes from `start`, `length` of them at most. */
  getRange(objectKey: string, start: number, length: number): Promise<Readable>;
  /** The CopySource naming a stored object. */
  copySource(objectKey: string): string;
}

export class MultipartParts {
  readonly #target: MultipartTarget;
  readonly #parts: CompletedPart[] = [];
  #buffer: Buffer | undefined;
  #buffered = 0;

  constructor(target: MultipartTarget) {
    this.#target = target;
  }

  /** Streamed bytes waiting for their part to be sent. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Sends the buffered bytes as one part (none when empty). */
  async flush(): Promise<void> {
    if (this.#buffered === 0 || !this.#buffer) return;
    const PartNumber = this.#nextPart();
    const result = await this.#target.client.send(
      new UploadPartCommand({
        ...this.#common(),
        PartNumber,
        Body: this.#buffer.subarray(0, this.#buffered),
        ContentLength: this.#buffered,
      }),
    );
    this.#parts.push({ PartNumber, ETag: result.ETag });
    this.#buffered = 0;
  }

  /** Streams a range of a stored object into the part buffer. */
  async streamIn(key: string, start: number, length: number): Promise<void> {
    for await (const chunk of take(await this.#target.getRange(key, start, length), length)) {
      for (let used = 0; used < chunk.length;) {
        this.#buffer ??= Buffer.allocUnsafe(this.#target.partSize);
        const n = chunk.copy(this.#buffer, this.#buffered, used);
        this.#buffered += n;
        used += n;
        if (this.#buffered === this.#buffer.length) await this.flush();
      }
    }
  }

  /** Copies a range of a stored object as parts on the server (nothing may be buffered). */
  async copyIn(key: string, start: number, length: number): Promise<void> {
    // Parts of at most 5 GiB, as even as possible: each is then at least 5 MiB too.
    const count = Math.ceil(length / this.#target.maxPart);
    const size = Math.ceil(length / count);
    for (let at = start; at < start + length; at += size) {
      const last = Math.min(at + size, start + length) - 1;
      const PartNumber = this.#nextPart();
      const result = await this.#target.client.send(
        new UploadPartCopyCommand({
          ...this.#common(),
          PartNumber,
          CopySource: this.#target.copySource(key),
          CopySourceRange: `bytes=${at}-${last}`,
        }),
      );
      this.#parts.push({ PartNumber, ETag: result.CopyPartResult?.ETag });
    }
  }

  /** Sends what is buffered and completes the upload. */
  async complete(): Promise<void> {
    await this.flush();
    await this.#target.client.send(
      new CompleteMultipartUploadCommand({ ...this.#common(), MultipartUpload: { Parts: this.#parts } }),
    );
  }

  #common() {
    return { Bucket: this.#target.bucket, Key: this.#target.key, UploadId: this.#target.uploadId };
  }

  #nextPart(): number {
    if (this.#parts.length >= MAX_PARTS) {
      throw new Error(`${this.#target.key} would need more than ${MAX_PARTS} parts`);
    }
    return this.#parts.length + 1;
  }
}
