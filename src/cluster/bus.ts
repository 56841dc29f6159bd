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
  return new RedisClusterBus(config, instanceId, logger);
}

class RedisClusterBus implements ClusterBus {
  readonly #config: RedisConfig;
  readonly #instanceId: string;
  readonly #logger: Logger;
  readonly #channel: string;
  readonly #handlers = new Map<Topic, Array<(payload: string) => void>>();
  readonly #gapHandlers: Array<() => void> = [];
  // Invalidations whose publish failed: sent again when the command connection is back. They are
  // idempotent, so sending one twice is harmless; losing one would leave others stale.
  readonly #pending = new Set<string>();
  #subscribed = false;
  #live = false;
  #lastEcho = 0;
  #closed = false;
  #lastErrorLog = 0;
  readonly #commands: () => Redis;
  readonly #subscriber: () => Redis;
  readonly #heartbeat: NodeJS.Timeout;

  constructor(config: RedisConfig, instanceId: string, logger: Logger) {
    this.#config = config;
    this.#instanceId = instanceId;
    this.#logger = logger;
    this.#channel = `${config.key_prefix}events`;
    this.#commands = this.#keep('commands', (client) => {
      client.on('ready', () => void this.#resendPending());
    });
    this.#subscriber = this.#keep('subscriber', (client) => this.#setUpSubscriber(client));
    this.#heartbeat = setInterval(() => {
      if (this.#live && Date.now() - this.#lastEcho > ECHO_TIMEOUT_MS) this.#goDown('no heartbeat echo');
      void this.#send({ from: this.#instanceId, topic: 'heartbeat', payload: '' });
    }, HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  isLive(): boolean {
    return this.#live;
  }

  async publish(topic: Topic, payload: string): Promise<void> {
    const message: Message = { from: this.#instanceId, topic, payload };
    if (await this.#send(message)) return;
    if (this.#pending.size < MAX_PENDING) this.#pending.add(JSON.stringify(message));
    else this.#logThrottled(new Error(`more than ${MAX_PENDING} unsent`), 'dropping cluster bus messages');
  }

  on(topic: Topic, handler: (payload: string) => void): void {
    this.#handlers.set(topic, [...(this.#handlers.get(topic) ?? []), handler]);
  }

  onGap(handler: () => void): void {
    this.#gapHandlers.push(handler);
  }

  get redis(): Redis {
    return this.#commands();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#live = false;
    clearInterval(this.#heartbeat);
    this.#subscriber().disconnect();
    this.#commands().disconnect();
  }

  // ioredis emits 'error' on every failed reconnect; unhandled it would crash the process. One
  // line per outage is enough: the 'down' and 'live' transitions are logged below.
  #logThrottled(err: unknown, message: string): void {
    const now = Date.now();
    if (now - this.#lastErrorLog < 30_000) return;
    this.#lastErrorLog = now;
    this.#logger.warn({ err: err instanceof Error ? err.message : String(err) }, message);
  }

  #gap(): void {
    for (const handler of this.#gapHandlers) handler();
  }

  #goDown(reason: string): void {
    if (!this.#live) return;
    this.#live = false;
    this.#logger.warn({ reason }, 'cluster bus down: shared caches off until Redis is back');
    this.#gap();
  }

  /**
   * A connection that is replaced should the client ever give up on it ('end': it does not with
   * the retry strategies of redis.ts, but a Sentinel corner case once did): the bus must heal.
   */
  #keep(role: RedisRole, setUp: (client: Redis) => void): () => Redis {
    let client: Redis;
    const open = () => {
      if (this.#closed) return;
      client = createRedis(this.#config, role);
      client.on('error', (err: Error) =>
        this.#logThrottled(err, `redis ${role} connection error (retrying)`),
      );
      client.once('end', () => {
        if (this.#closed) return;
        this.#logger.warn({ role }, 'redis connection ended; opening a new one');
        setTimeout(open, 1_000).unref();
      });
      setUp(client);
      // lazyConnect: connect now, without waiting; a failure is retried by the retry strategy.
      client.connect().catch(() => undefined);
    };
    open();
    return () => client;
  }

  async #send(message: Message): Promise<boolean> {
    const raw = JSON.stringify(message);
    try {
      await this.#commands().publish(this.#channel, raw);
      return true;
    } catch (err) {
      this.#logThrottled(err, `publishing ${message.topic} to the cluster bus failed`);
      return false;
    }
  }

  async #resendPending(): Promise<void> {
    for (const raw of [...this.#pending]) {
      this.#pending.delete(raw);
      if (!(await this.#send(JSON.parse(raw) as Message))) {
        this.#pending.add(raw);
        return;
      }
    }
  }

  #setUpSubscriber(client: Redis): void {
    client.on('ready', () => {
      client.subscribe(this.#channel).then(
        () => {
          // Live once our own heartbeat comes back through this subscription.
          if (!this.#closed && client === this.#subscriber()) this.#subscribed = true;
        },
        (err: unknown) => this.#logThrottled(err, 'subscribing to the cluster bus failed'),
      );
    });
    const lost = (reason: string) => {
      this.#subscribed = false;
      this.#goDown(reason);
    };
    client.on('close', () => lost('connection closed'));
    client.on('reconnecting', () => lost('reconnecting'));
    client.on('message', (messageChannel: string, raw: string) => {
      if (messageChannel === this.#channel) this.#received(raw);
    });
  }

  #received(raw: string): void {
    let message: Message;
    try {
      message = JSON.parse(raw) as Message;
    } catch {
      return;
    }
    if (message.from === this.#instanceId) {
      if (message.topic !== 'heartbeat' || !this.#subscribed) return;
      this.#lastEcho = Date.now();
      if (!this.#live) {
        // Whatever was cached before may have missed messages while we were away.
        this.#gap();
        this.#live = true;
        this.#logger.info('cluster bus live: shared caches on');
      }
      return;
    }
    if (message.topic === 'heartbeat') return;
    for (const handler of this.#handlers.get(message.topic) ?? []) handler(message.payload);
  }
}
