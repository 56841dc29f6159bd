import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort, waitForHttp } from './ports.js';

// An S3-compatible server for the storage tests: s3rver (the maintained fork, @20minutes/s3rver,
// a devDependency), run as its own Node process on a free loopback port, keeping its objects in
// a temporary directory. It checks AWS signature v4, so credentials are really exercised. What it
// does not do like AWS S3 is listed at the top of test/storage/s3-driver.test.ts.

export interface S3ServerHandle {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  /** A bucket created at start. */
  bucket: string;
  accessKey: string;
  secretKey: string;
  /** Where s3rver keeps its files: `<dataDir>/<bucket>/...`. */
  dataDir: string;
  /**
   * Multipart uploads of a bucket that were neither completed nor aborted. s3rver has no
   * ListMultipartUploads: this reads its upload directories.
   */
  pendingMultipartUploads(bucket: string): Promise<string[]>;
  /** Creates another bucket. */
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

// s3rver's built-in account; any other key pair is refused.
const ACCESS_KEY = 'S3RVER';
const SECRET_KEY = 'S3RVER';

// The package ships no runnable bin, so the script below starts it: its arguments are the data
// directory, the port and whether to log requests. On the way it fixes two s3rver bugs and adds
// one missing operation, each where AWS S3's documented behaviour is what the driver relies on:
// - Signed path: s3rver rebuilds the path it checks the signature against from the bucket name
//   and drops the trailing slash that the AWS SDK v3 sends and signs on bucket requests
//   ("/bucket/": ListObjectsV2, HeadBucket, DeleteObjects), failing them all with
//   SignatureDoesNotMatch. The slash goes back into the string to sign; signatures are checked.
// - Atomic PUT: s3rver writes an object's bytes into its file in place, so a reader sees a new
//   object half-written and two racing PUTs interleave; S3 replaces objects whole. Bytes now go
//   to a temporary file that is renamed over the object's file when complete.
// - AbortMultipartUpload: s3rver answers it with MethodNotAllowed and keeps the parts. The script
//   deletes the upload's directory (<data>/<bucket>/._S3rver_uploads/<id>) instead, without
//   checking the request's signature.
// And s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 has only in its
// legacy provider: without --openssl-legacy-provider every truncated listing fails with a 500.
const SERVER_SCRIPT = `
const { randomUUID } = require('node:crypto');
const { existsSync, promises: fs } = require('node:fs');
const path = require('node:path');
const S3rver = require('@20minutes/s3rver');
const FilesystemStore = require('@20minutes/s3rver/lib/stores/filesystem');
const v4 = require('@20minutes/s3rver/lib/signature/v4');
const [directory, port, verbose] = process.argv.slice(1);

const rawPaths = new WeakMap();
const getStringToSign = v4.getStringToSign;
v4.getStringToSign = (canonical, request) => {
  const raw = rawPaths.get(canonical.headers);
  const uri = raw && raw.endsWith('/') && !canonical.uri.endsWith('/') ? canonical.uri + '/' : canonical.uri;
  return getStringToSign({ ...canonical, uri }, request);
};

const putContent = FilesystemStore.prototype.putContent;
FilesystemStore.prototype.putContent = async function (file, content) {
  const temporary = file + '.' + randomUUID() + '.tmp';
  try {
    const result = await putContent.call(this, temporary, content);
    await fs.rename(temporary, file);
    return result;
  } catch (err) {
    await fs.rm(temporary, { force: true });
    throw err;
  }
};

const server = new S3rver({ directory, address: '127.0.0.1', port: Number(port), silent: verbose !== '1' });
server.middleware.unshift(async (ctx, next) => {
  rawPaths.set(ctx.headers, ctx.path);
  const uploadId = ctx.query.uploadId;
  if (ctx.method !== 'DELETE' || typeof uploadId !== 'string') return next();
  const bucket = ctx.path.split('/')[1] || '';
  const uploads = path.join(directory, bucket, '._S3rver_uploads');
  const upload = path.join(uploads, uploadId);
  if (!/^[0-9a-f]+$/.test(uploadId) || !existsSync(upload)) {
    ctx.status = 404;
    ctx.type = 'application/xml';
    ctx.body = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchUpload</Code></Error>';
    return;
  }
  await fs.rm(upload, { recursive: true, force: true });
  ctx.status = 204;
});
server.run().then(() => console.log('s3rver ready'), (err) => { console.error(err); process.exit(1); });
process.on('SIGTERM', () => process.exit(0));
`;

export async function startS3Server(options: { bucket?: string } = {}): Promise<S3ServerHandle> {
  const bucket = options.bucket ?? 'wharf-test';
  const dataDir = await mkdtemp(join(tmpdir(), 'wharf-s3rver-'));
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  // WHARF_TEST_S3_LOG=1 shows s3rver's request log (and its errors) on this process's stderr.
  const verbose = process.env.WHARF_TEST_S3_LOG === '1';
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', '-e', SERVER_SCRIPT, dataDir, String(port), verbose ? '1' : '0'],
    {
      // require() resolves @20minutes/s3rver from the project's node_modules.
      cwd: resolve(import.meta.dirname, '../..'),
      stdio: ['ignore', 'pipe', verbose ? 'inherit' : 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));

  const stop = async () => {
    await kill(child, exited);
    await rm(dataDir, { recursive: true, force: true });
  };
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
  });
  const createBucket = async (name: string) => {
    await client.send(new CreateBucketCommand({ Bucket: name }));
  };
  try {
    await Promise.race([
      waitForHttp(endpoint, 30_000),
      exited.then(() => {
        throw new Error(`s3rver exited at start: ${output}`);
      }),
    ]);
    await createBucket(bucket);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    endpoint,
    bucket,
    accessKey: ACCESS_KEY,
    secretKey: SECRET_KEY,
    dataDir,
    createBucket,
    async pendingMultipartUploads(name) {
      return readdir(join(dataDir, name, '._S3rver_uploads')).catch(() => []);
    },
    async stop() {
      client.destroy();
      await stop();
    },
  };
}

async function kill(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
