import { connect, createServer, type Socket } from 'node:net';

// A TCP forwarder on loopback in front of one registry, for partition tests: peers reach the
// registry through it, and the test can cut it (every open connection reset, every new one reset
// as soon as it is accepted, as a peer behind a broken link or a firewall that rejects would
// look) and heal it again. The registry itself keeps running and serving its own clients: only
// the link is gone. Bytes pass through untouched.

export interface PartitionProxy {
  url: string;
  port: number;
  /** Resets every connection through the proxy and refuses new ones until heal(). */
  cut(): void;
  heal(): void;
  isCut(): boolean;
  /** Connections refused while cut. */
  refused(): number;
  close(): Promise<void>;
}

export async function startPartitionProxy(targetPort: number): Promise<PartitionProxy> {
  const sockets = new Set<Socket>();
  let cut = false;
  let refused = 0;
  const server = createServer((client) => {
    if (cut) {
      refused++;
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    const drop = () => {
      sockets.delete(client);
      sockets.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the proxy has no TCP address');
  const resetAll = () => {
    for (const socket of sockets) {
      if (socket.destroyed) continue;
      // A reset, not a polite FIN: a request in flight fails at once.
      if (socket.connecting) socket.destroy();
      else socket.resetAndDestroy();
    }
    sockets.clear();
  };
  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    cut() {
      cut = true;
      resetAll();
    },
    heal() {
      cut = false;
    },
    isCut: () => cut,
    refused: () => refused,
    async close() {
      cut = true;
      resetAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
