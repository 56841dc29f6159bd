import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisConfig } from '../config/schema.js';
import { createRedis, type RedisRole } from './redis.js';

// Messages between the instances of a cluster, over Redis pub/sub: "this repository changed".
// Delivery is at most once, so the bus tells its users whether it is live and calls their gap
// handlers whenever messages may have been missed (a disconnect, a reconnect, a Sentinel
// failover). Live means: subscribed, and this instance's own heartbeat, published every second,
// came back through the channel within the last three. That also catches what socket events do
// not: a connection that went quiet without closing (a partition, a powered-off server) and a
// subscriber left on a demoted master. A cache built on the bus is used only while it is live.

export type Topic = 'repository-changed';

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
  /** The sending instance, so that it ignores its own messages (but for its heartbeat). */
  from: string;
  topic: Topic | 'heartbeat';
  payload: string;
}

const HEARTBEAT_MS = 1_000;
/** Without its own heartbeat back for this long, an instance stops trusting the bus. */
const ECHO_TIMEOUT_MS = 3_000;
/** Invalidations kept for re-sending while the command connection is away. */
const MAX_PENDING = 10_000;

export function createRedisBus(config: RedisConfig, instanceId: string, logger: Logger): ClusterBus {
  const channel = `${config.key_prefix}events`;
  const handlers = new Map<Topic, Array<(payload: string) => void>>();
  const gapHandlers: Array<() => void> = [];
  let subscribed = false;
  let live = false;
  let lastEcho = 0;
  let closed = false;
  // Invalidations whose publish failed: sent again when the command connection is back. They are
  // idempotent, so sending one twice is harmless; losing one would leave others stale.
  const pending = new Set<string>();

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
      if (closed) return;
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

  const send = async (message: Message): Promise<boolean> => {
    const raw = JSON.stringify(message);
    try {
      await commands().publish(channel, raw);
      return true;
    } catch (err) {
      logThrottled(err, `publishing ${message.topic} to the cluster bus failed`);
      return false;
    }
  };
  const resendPending = async () => {
    for (const raw of [...pending]) {
      pending.delete(raw);
      if (!(await send(JSON.parse(raw) as Message))) {
        pending.add(raw);
        return;
      }
    }
  };

  const commands = keep('commands', (client) => {
    client.on('ready', () => void resendPending());
  });
  const subscriber = keep('subscriber', (client) => {
    client.on('ready', () => {
      client.subscribe(channel).then(
        () => {
          // Live once our own heartbeat comes back through this subscription.
          if (!closed && client === subscriber()) subscribed = true;
        },
        (err: unknown) => logThrottled(err, 'subscribing to the cluster bus failed'),
      );
    });
    const lost = (reason: string) => {
      subscribed = false;
      goDown(reason);
    };
    client.on('close', () => lost('connection closed'));
    client.on('reconnecting', () => lost('reconnecting'));
    client.on('message', (messageChannel: string, raw: string) => {
      if (messageChannel !== channel) return;
      let message: Message;
      try {
        message = JSON.parse(raw) as Message;
      } catch {
        return;
      }
      if (message.from === instanceId) {
        if (message.topic !== 'heartbeat' || !subscribed) return;
        lastEcho = Date.now();
        if (!live) {
          // Whatever was cached before may have missed messages while we were away.
          gap();
          live = true;
          logger.info('cluster bus live: shared caches on');
        }
        return;
      }
      if (message.topic === 'heartbeat') return;
      for (const handler of handlers.get(message.topic) ?? []) handler(message.payload);
    });
  });

  const heartbeat = setInterval(() => {
    if (live && Date.now() - lastEcho > ECHO_TIMEOUT_MS) goDown('no heartbeat echo');
    void send({ from: instanceId, topic: 'heartbeat', payload: '' });
  }, HEARTBEAT_MS);
  heartbeat.unref();

  return {
    isLive: () => live,
    async publish(topic, payload) {
      const message: Message = { from: instanceId, topic, payload };
      if (await send(message)) return;
      if (pending.size < MAX_PENDING) pending.add(JSON.stringify(message));
      else logThrottled(new Error(`more than ${MAX_PENDING} unsent`), 'dropping cluster bus messages');
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
      clearInterval(heartbeat);
      subscriber().disconnect();
      commands().disconnect();
    },
  };
}
