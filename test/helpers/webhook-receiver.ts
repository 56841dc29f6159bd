import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

// A webhook receiver on loopback for tests: records every request (path, headers, exact body),
// answers with a chosen status, and can go down (refusing connections: the port is closed) and
// come back on the same port.

export interface ReceivedHook {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** The body as JSON (undefined when it is not JSON). */
  json: unknown;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  received: ReceivedHook[];
  /** The status the next requests get (default 200). */
  status: number;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(tls?: { key: string; cert: string }): Promise<WebhookReceiver> {
  let server: Server | undefined;
  let port = 0;
  const receiver = {
    url: '',
    port: 0,
    received: [] as ReceivedHook[],
    status: 200,
  };
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(body) as unknown;
      } catch {
        json = undefined;
      }
      if (receiver.status >= 200 && receiver.status < 300) {
        receiver.received.push({ path: req.url ?? '', headers: req.headers, body, json });
      }
      res.statusCode = receiver.status;
      res.end('ok');
    });
  };
  const up = async () => {
    server = tls ? createHttpsServer(tls, listener) : createHttpServer(listener);
    await new Promise<void>((resolve, reject) => {
      server?.once('error', reject);
      server?.listen(port, '127.0.0.1', () => resolve());
    });
    port = (server.address() as AddressInfo).port;
  };
  const down = () =>
    new Promise<void>((resolve) => {
      if (!server) return resolve();
      server.closeAllConnections();
      server.close(() => resolve());
      server = undefined;
    });
  await up();
  return Object.assign(receiver, {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    up,
    down,
    close: down,
  });
}

/** Whether `X-Wharf-Signature` is the HMAC-SHA256 of the exact body under `secret`. */
export function validSignature(hook: ReceivedHook, secret: string): boolean {
  const given = hook.headers['x-wharf-signature'];
  if (typeof given !== 'string') return false;
  const expected = `sha256=${createHmac('sha256', secret).update(hook.body, 'utf8').digest('hex')}`;
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}
