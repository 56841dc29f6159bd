import type { FastifyInstance } from 'fastify';
import type { WharfConfig } from '../config/schema.js';

// The listener: socket timeouts from the configuration, the bound port, and this instance's URLs.

export interface Listening {
  /** http://host:port actually bound (port 0 in the configuration picks a free one). */
  url: string;
  port: number;
  /** This instance as seen from itself (replication and webhooks reach it there). */
  localUrl: string;
}

export async function listen(app: FastifyInstance, config: WharfConfig): Promise<Listening> {
  // http.idle_timeout_seconds: idle kept-alive connections close after it (above the balancer's own).
  app.server.keepAliveTimeout = config.http.idle_timeout_seconds * 1000;
  app.server.requestTimeout = 0; // large blob uploads may legitimately take long
  app.server.headersTimeout = 60_000;
  await app.listen({ host: config.http.host, port: config.http.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
  return { url: `http://${host}:${port}`, port, localUrl: loopbackUrl(config.http.host, port) };
}

/** An unspecified bind address is reached through loopback. */
function loopbackUrl(bindHost: string, port: number): string {
  if (bindHost === '0.0.0.0' || bindHost === '') return `http://127.0.0.1:${port}`;
  if (bindHost === '::') return `http://[::1]:${port}`;
  return `http://${bindHost.includes(':') ? `[${bindHost}]` : bindHost}:${port}`;
}
