/**
 * Redis clients for BullMQ. A URL becomes an ioredis client we own (closed when we close), built the
 * way BullMQ needs it to survive a Redis restart: `maxRetriesPerRequest: null` (commands wait for the
 * reconnection instead of failing) and a short, capped retry delay. Handing BullMQ plain connection
 * options instead was measured to leave a worker crawling after a restart (about one job per 15 s).
 */
import { invalidOption } from "../addon/errors.js";
import { loadIORedis } from "./deps.js";

/**
 * An ioredis client (`new Redis(...)`), structurally: the library does not make its types depend on
 * ioredis, which is an optional peer dependency. It needs `maxRetriesPerRequest: null`.
 */
export interface RedisClientLike {
  duplicate(...args: never[]): unknown;
  quit(): Promise<unknown>;
}

/** A Redis URL (`redis://host:port[/db]`, `rediss://` for TLS) or an ioredis client you own. */
export type QueueConnection = string | RedisClientLike;

/** Retry delay after the n-th failed reconnection: 100 ms, 200 ms, … capped at 1 s. */
export function retryDelay(times: number): number {
  return Math.min(times * 100, 1000);
}

/** A client for `connection` and whether we own it (then we quit it on close). */
export async function redisClient(connection: QueueConnection): Promise<{ client: RedisClientLike; owned: boolean }> {
  if (typeof connection !== "string") {
    if (!connection || typeof (connection as RedisClientLike).duplicate !== "function") throw invalidOption("connection", "a redis:// URL or an ioredis client", connection);
    return { client: connection, owned: false };
  }
  if (!/^rediss?:\/\//.test(connection)) throw invalidOption("connection", "a redis:// or rediss:// URL", connection);
  const { Redis } = await loadIORedis();
  const client = new Redis(connection, { maxRetriesPerRequest: null, retryStrategy: retryDelay, enableReadyCheck: true });
  // Without a listener ioredis prints every failed reconnection; they are expected while Redis restarts.
  client.on("error", () => undefined);
  return { client: client as unknown as RedisClientLike, owned: true };
}

/** Quits a client we own; a Redis that is gone does not make closing fail. */
export async function closeClient(c: { client: RedisClientLike; owned: boolean }): Promise<void> {
  if (!c.owned) return;
  try {
    await Promise.race([c.client.quit(), new Promise((r) => setTimeout(r, 2000).unref())]);
  } catch {
    /* already closed */
  }
  (c.client as unknown as { disconnect?: () => void }).disconnect?.();
}

/**
 * Whether a Redis answers at `url` within `timeoutMs`: the commands check this once at start, so a
 * wrong URL is an error rather than a wait (after the start, a lost Redis is waited for).
 * @returns undefined when it answers, else why not.
 */
export async function redisUnreachable(url: string, timeoutMs: number): Promise<string | undefined> {
  const { Redis } = await loadIORedis();
  const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs, enableOfflineQueue: false });
  let cause = "";
  c.on("error", (e: Error) => (cause ||= e.message)); // "connect ECONNREFUSED …" says more than the rejection
  try {
    await c.connect();
    await c.ping();
    return undefined;
  } catch (e) {
    return cause || (e instanceof Error ? e.message : String(e));
  } finally {
    c.disconnect();
  }
}
