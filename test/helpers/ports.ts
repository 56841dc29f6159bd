import { createServer } from 'node:net';

// Ports are taken below Linux's ephemeral range (32768-60999 by default). A server the tests stop
// and start again on the same port (PostgreSQL, Redis, an instance) would otherwise be exposed to
// TCP self-connect: a client retrying 127.0.0.1:P may get the local port P itself, connect to its
// own socket and hold the port, and the restarted server then cannot bind it.
const LOW = 20_000;
const HIGH = 32_767;
// Each vitest worker (VITEST_POOL_ID) takes ports from its own slice, and hands none out twice: a
// server stopped and started again on its port (a restart) could otherwise find that another
// file, probing for a free port in the same moment, has taken it (EADDRINUSE). Slice 0 is for
// what runs outside the workers (global setup).
const SLICES = 8;
const SLICE_SIZE = Math.floor((HIGH - LOW + 1) / SLICES);
const slice = Number(process.env.VITEST_POOL_ID ?? 0) % SLICES;
const sliceLow = LOW + slice * SLICE_SIZE;
let cursor = Math.floor(Math.random() * SLICE_SIZE);
const handedOut = new Set<number>();

/** Binds port on 127.0.0.1 and lets it go; resolves whether that worked. */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A TCP port on 127.0.0.1, outside the ephemeral range, free a moment ago and new to this worker. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < SLICE_SIZE; attempt++) {
    const port = sliceLow + (cursor++ % SLICE_SIZE);
    if (handedOut.has(port)) continue;
    if (await canBind(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port between ${sliceLow} and ${sliceLow + SLICE_SIZE - 1}`);
}

/** Polls url until it answers (any HTTP status) or the deadline passes. */
export async function waitForHttp(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      await fetch(url, { signal: AbortSignal.timeout(2_000) });
      return;
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms: ${String(lastError)}`);
}
