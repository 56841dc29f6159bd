import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisConfig } from '../config/schema.js';
import { createRedis, type RedisRole } from './redis.js';

// Messages between the instances of a cluster, over Redis pub/sub: "this repository changed",
// "forget remembered credentials". Delivery is at most once, so the bus tells its users whether it
// is live (connected and subscribed: every message published from now on arrives) and calls
// their gap handlers whenever messages may have been missed (a disconnect, a reconnect, a
// Sentinel failover). A cache built on it is used only while it is live.

export type Topic = 'repository-changed' | 'credentials-changed';

export interface ClusterBus {
  isLive(): boolean;
  /**
   * Sends to every other instance; resolves when Redis has taken the message (or failed to:
   * failures are logged, never thrown, and bounded by the command timeout: Redis is an
   * accelerator).
   */
  publish(topic: Topic, payload: string): Promise<void>;
  on(topic: Topic, handler: (payload: string) => void): void;
  /** Called when messages may have been missed: drop whatever depends on having heard them. */
  onGap(handler: () => void): void;
  /** The command connection (rate-limit counters, health), or null without Redis. */
  readonly redis: Redis | null;
  close(): Promise<void>;
}

/** Without Redis: never live, so caches that need the cluster's messages stay off. */
export const noClusterBus: ClusterBus = {
  isLive: () => false,
  publish: async () => undefined,
  on: () => undefined,
  onGap: () => undefined,
  redis: null,
  close: async () => undefined,
};

/** The embedded database admits one process, which therefore sees every write: always live. */
export const soloBus: ClusterBus = { ...noClusterBus, isLive: () => true };

interface Message {
  /** The sending instance, so that it ignores its own messages. */
  from: string;
  topic: Topic;
  payload: string;
}

export function createRedisBus(config: RedisConfig, instanceId: string, logger: Logger): ClusterBus {
  const channel = `${config.key_prefix}events`;
  const handlers = new Map<Topic, Array<(payload: string) => void>>();
  const gapHandlers: Array<() => void> = [];
  let live = false;
  let closed = false;

  // ioredis emits 'error' on every failed reconnect; unhandled it would crash the process. One
  // line per outage is enough: the 'down' and 'live' transitions are logged below.
  let lastErrorLog = 0;
  const logThrottled = (err: unknown, message: string) => {
    const now = Date.now();
    if (now - lastErrorLog < 30_000) return;
    lastErrorLog = now;
    logger.warn({ err: err instanceof Error ? err.message : String(err) }, message);
  };
  const gap = () => {
    for (const handler of gapHandlers) handler();
  };
  const goDown = (reason: string) => {
    if (!live) return;
    live = false;
    logger.warn({ reason }, 'cluster bus down: shared caches off until Redis is back');
    gap();
  };

  /**
   * A connection that is replaced should the client ever give up on it ('end': it does not with
   * the retry strategies of redis.ts, but a Sentinel corner case once did): the bus must heal.
   */
  const keep = (role: RedisRole, setUp: (client: Redis) => void): (() => Redis) => {
    let client: Redis;
    const open = () => {
      client = createRedis(config, role);
      client.on('error', (err: Error) => logThrottled(err, `redis ${role} connection error (retrying)`));
      client.once('end', () => {
        if (closed) return;
        logger.warn({ role }, 'redis connection ended; opening a new one');
        setTimeout(open, 1_000).unref();
      });
      setUp(client);
      // lazyConnect: connect now, without waiting; a failure is retried by the retry strategy.
      client.connect().catch(() => undefined);
    };
    open();
    return () => client;
  };

  const commands = keep('commands', () => undefined);
  const subscriber = keep('subscriber', (client) => {
    client.on('ready', () => {
      client.subscribe(channel).then(
        () => {
          if (closed || client !== subscriber()) return;
          // Whatever was cached before may have missed messages while we were away.
          gap();
          live = true;
          logger.info('cluster bus live: shared caches on');
        },
        (err: unknown) => logThrottled(err, 'subscribing to the cluster bus failed'),
      );
    });
    client.on('close', () => goDown('connection closed'));
    client.on('reconnecting', () => goDown('reconnecting'));
    client.on('message', (messageChannel: string, raw: string) => {
      if (messageChannel !== channel) return;
      let message: Message;
      try {
        message = JSON.parse(raw) as Message;
      } catch {
        return;
      }
      if (message.from === instanceId) return;
      for (const handler of handlers.get(message.topic) ?? []) handler(message.payload);
    });
  });

  return {
    isLive: () => live,
    async publish(topic, payload) {
      const message: Message = { from: instanceId, topic, payload };
      await commands()
        .publish(channel, JSON.stringify(message))
        .catch((err: unknown) => logThrottled(err, `publishing ${topic} to the cluster bus failed`));
    },
    on(topic, handler) {
      handlers.set(topic, [...(handlers.get(topic) ?? []), handler]);
    },
    onGap(handler) {
      gapHandlers.push(handler);
    },
    get redis() {
      return commands();
    },
    async close() {
      closed = true;
      live = false;
      subscriber().disconnect();
      commands().disconnect();
    },
  };
}
