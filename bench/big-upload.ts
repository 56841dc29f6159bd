import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { withDigest, type RegistryClient } from './client.js';

// One large blob, generated on the fly and streamed in a monolithic PUT (POST for a session, then
// PUT with Content-Length and ?digest=), while the server's memory is watched: its peak resident
// set is reset just before the upload (clear_refs) and read (VmHWM) right after, and the resident
// set of its whole process tree is sampled every 20 ms meanwhile.

const CHUNK = 1 << 20;

export interface BigUploadResult {
  bytes: number;
  seconds: number;
  megabytesPerSecond: number;
  /** Resident set (MB, 10^6 bytes) of the process tree just before the upload. */
  baselineMB: number;
  /** Peak resident set (MB) during the upload: VmHWM of the server, or the sampled tree if larger. */
  peakMB: number;
  processes: number;
}

/** A deterministic stream of `bytes`: one random 1 MiB block, each copy stamped with its index. */
export class GeneratedBlob {
  readonly bytes: number;
  private readonly block = randomBytes(CHUNK);
  private digestCache: string | undefined;

  constructor(bytes: number) {
    this.bytes = bytes;
  }

  *chunks(): Generator<Buffer> {
    for (let offset = 0, index = 0; offset < this.bytes; offset += CHUNK, index++) {
      const chunk = Buffer.from(this.block.subarray(0, Math.min(CHUNK, this.bytes - offset)));
      if (chunk.length >= 8) chunk.writeBigUInt64BE(BigInt(index), 0);
      yield chunk;
    }
  }

  digest(): string {
    if (this.digestCache === undefined) {
      const hash = createHash('sha256');
      for (const chunk of this.chunks()) hash.update(chunk);
      this.digestCache = `sha256:${hash.digest('hex')}`;
    }
    return this.digestCache;
  }
}

export async function measureBigUpload(
  client: RegistryClient,
  pid: number,
  repo: string,
  blob: GeneratedBlob,
): Promise<BigUploadResult> {
  const digest = blob.digest();
  const location = await client.startUpload(repo);
  const auth = await client.authorization(`repository:${repo}:pull,push`, {
    method: 'POST',
    path: `/v2/${repo}/blobs/uploads/`,
  });
  const pids = processTree(pid);
  for (const p of pids) writeFileSync(`/proc/${p}/clear_refs`, '5');
  const baseline = treeRss(pid);
  let sampled = baseline.kb;
  const sampler = setInterval(() => {
    sampled = Math.max(sampled, treeRss(pid).kb);
  }, 20);
  const start = performance.now();
  try {
    await putStream(withDigest(location, digest), blob, auth);
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - start) / 1000;
  const hwm = statusKb(pid, 'VmHWM');
  const res = await fetch(`${client.baseUrl}/v2/${repo}/blobs/${digest}`, {
    method: 'HEAD',
    headers: auth ? { authorization: auth } : {},
  });
  if (res.status !== 200 || res.headers.get('content-length') !== String(blob.bytes)) {
    throw new Error(`HEAD of the uploaded blob: ${res.status}, length ${res.headers.get('content-length')}`);
  }
  return {
    bytes: blob.bytes,
    seconds,
    megabytesPerSecond: blob.bytes / 1e6 / seconds,
    baselineMB: (baseline.kb * 1024) / 1e6,
    peakMB: (Math.max(hwm, sampled) * 1024) / 1e6,
    processes: baseline.processes,
  };
}

function putStream(url: string, blob: GeneratedBlob, auth: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'PUT',
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': String(blob.bytes),
          ...(auth ? { authorization: auth } : {}),
        },
        timeout: 60_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (text: string) => {
          body = (body + text).slice(0, 500);
        });
        res.on('end', () => {
          if (res.statusCode === 201) resolve();
          else reject(new Error(`PUT of the large blob: expected 201, got ${res.statusCode} ${body}`));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('PUT of the large blob: no progress for 60 s')));
    req.on('error', reject);
    const chunks = blob.chunks();
    const pump = () => {
      for (;;) {
        const next = chunks.next();
        if (next.done) {
          req.end();
          return;
        }
        if (!req.write(next.value)) {
          req.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

/** The pid and all its descendants. */
export function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    const taskDir = `/proc/${all[i]}/task`;
    if (!existsSync(taskDir)) continue;
    for (const tid of readdirSync(taskDir)) {
      try {
        const children = readFileSync(`${taskDir}/${tid}/children`, 'utf8').trim();
        if (children) all.push(...children.split(/\s+/).map(Number));
      } catch {
        // the thread ended meanwhile
      }
    }
  }
  return all;
}

function statusKb(pid: number, field: string): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

function treeRss(pid: number): { kb: number; processes: number } {
  const pids = processTree(pid);
  return { kb: pids.reduce((sum, p) => sum + statusKb(p, 'VmRSS'), 0), processes: pids.length };
}
