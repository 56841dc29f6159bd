import { connect, createServer, type Socket } from 'node:net';

// A TCP proxy on loopback between a client and one registry, for fault tests: it follows the
// HTTP/1.1 requests going through (method, path, Content-Length; clients here do not pipeline,
// so a response belongs to the last request of its connection) and can
// - cut the connection once, after a number of bytes of PATCH bodies went through (a chunk of an
//   upload breaking midway, as a network failure or a restarted peer would break it);
// - flip one byte in the body of every response to a GET of a blob (a corrupt source).

export interface TcpProxyOptions {
  /** Cut the connection (both sides) once, when this many bytes of PATCH bodies have passed. */
  cutPatchAfter?: number;
  /** Flip the byte at this offset of the body of each blob GET response (that is long enough). */
  corruptBlobAt?: number;
}

export interface TcpProxy {
  url: string;
  port: number;
  /** Connections cut so far (at most one). */
  cuts(): number;
  /** Bytes flipped so far. */
  corrupted(): number;
  /** PATCH body bytes that went through. */
  patchBytes(): number;
  close(): Promise<void>;
}

const HEAD_END = Buffer.from('\r\n\r\n');
/** A blob (not an upload) by digest; clients may send the colon percent-encoded. */
const BLOB_PATH = /\/blobs\/[a-z0-9]+(?::|%3a)/i;

export async function startTcpProxy(targetPort: number, options: TcpProxyOptions = {}): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let cuts = 0;
  let corrupted = 0;
  let patchBytes = 0;

  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);

    // Requests, client → registry.
    let head = Buffer.alloc(0);
    let bodyLeft = 0;
    let request = { method: '', path: '' };
    // The response to the current request, registry → client.
    let responseHead = Buffer.alloc(0);
    let responseBodySeen = -1;

    const forward = (bytes: Buffer) => {
      if (bytes.length > 0 && !upstream.write(bytes)) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
    };
    client.on('data', (chunk: Buffer) => {
      for (let at = 0; at < chunk.length;) {
        if (bodyLeft === 0) {
          const before = head.length;
          head = Buffer.concat([head, chunk.subarray(at)]);
          const end = head.indexOf(HEAD_END);
          if (end < 0) {
            forward(chunk.subarray(at));
            return;
          }
          const inChunk = end + HEAD_END.length - before;
          forward(chunk.subarray(at, at + inChunk));
          at += inChunk;
          const lines = head.subarray(0, end).toString('latin1').split('\r\n');
          const [method = '', path = ''] = (lines[0] ?? '').split(' ');
          request = { method, path };
          const length = lines.find((l) => /^content-length:/i.test(l))?.split(':')[1];
          bodyLeft = Number(length ?? 0) || 0;
          head = Buffer.alloc(0);
          responseHead = Buffer.alloc(0);
          responseBodySeen = -1;
          continue;
        }
        let piece = chunk.subarray(at, at + Math.min(bodyLeft, chunk.length - at));
        if (request.method === 'PATCH' && options.cutPatchAfter !== undefined && cuts === 0) {
          if (patchBytes + piece.length >= options.cutPatchAfter) {
            piece = piece.subarray(0, options.cutPatchAfter - patchBytes);
            patchBytes += piece.length;
            cuts++;
            upstream.write(piece, () => {
              client.resetAndDestroy();
              upstream.destroy();
            });
            return;
          }
        }
        if (request.method === 'PATCH') patchBytes += piece.length;
        forward(piece);
        at += piece.length;
        bodyLeft -= piece.length;
      }
    });

    upstream.on('data', (chunk: Buffer) => {
      const flipAt = options.corruptBlobAt;
      if (flipAt !== undefined && request.method === 'GET' && BLOB_PATH.test(request.path)) {
        let bodyStart = 0;
        if (responseBodySeen < 0) {
          const before = responseHead.length;
          responseHead = Buffer.concat([responseHead, chunk]);
          const end = responseHead.indexOf(HEAD_END);
          if (end >= 0) {
            bodyStart = end + HEAD_END.length - before;
            responseBodySeen = 0;
          }
        }
        if (responseBodySeen >= 0) {
          const index = flipAt - responseBodySeen + bodyStart;
          if (index >= bodyStart && index < chunk.length) {
            chunk = Buffer.from(chunk);
            chunk[index] = (chunk[index] as number) ^ 0xff;
            corrupted++;
          }
          responseBodySeen += chunk.length - bodyStart;
        }
      }
      if (!client.write(chunk)) {
        upstream.pause();
        client.once('drain', () => upstream.resume());
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the proxy has no TCP address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    cuts: () => cuts,
    corrupted: () => corrupted,
    patchBytes: () => patchBytes,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
