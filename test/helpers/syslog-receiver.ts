import { createServer, type Server, type Socket } from 'node:net';

// A TCP syslog receiver on loopback for tests: collects newline-framed messages.

export interface SyslogReceiver {
  port: number;
  lines: string[];
  /** Starts listening again on the same port after `close` (an outage that ends). */
  reopen(): Promise<void>;
  close(): Promise<void>;
}

export async function startSyslogReceiver(port = 0): Promise<SyslogReceiver> {
  const lines: string[] = [];
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const listen = (p: number) =>
    new Promise<number>((resolve, reject) => {
      const s = createServer((socket) => {
        sockets.add(socket);
        let buffered = '';
        socket.on('data', (chunk: Buffer) => {
          buffered += chunk.toString('utf8');
          const parts = buffered.split('\n');
          buffered = parts.pop() ?? '';
          lines.push(...parts.filter((l) => l !== ''));
        });
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => sockets.delete(socket));
      });
      s.once('error', reject);
      s.listen(p, '127.0.0.1', () => {
        server = s;
        const address = s.address();
        resolve(typeof address === 'object' && address ? address.port : p);
      });
    });
  const actualPort = await listen(port);
  const receiver: SyslogReceiver = {
    port: actualPort,
    lines,
    async reopen() {
      await listen(actualPort);
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      const s = server;
      server = undefined;
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
  return receiver;
}
