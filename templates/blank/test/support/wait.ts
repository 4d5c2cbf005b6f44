// Waiting in tests: every wait is bounded, and says what it waited for when the bound passes.
import { setTimeout as delay } from "node:timers/promises";

/**
 * Calls `attempt` until it returns something other than undefined (a throw counts as not yet);
 * fails after `bound` ms naming `what`, with the last error.
 */
export async function poll<T>(what: string, bound: number, attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + bound;
  let last = "";
  for (;;) {
    try {
      const result = await attempt();
      if (result !== undefined) return result;
    } catch (error) {
      last = (error as Error).message;
    }
    if (performance.now() >= deadline) throw new Error(`${what}: not within ${bound} ms${last && ` (last: ${last})`}`);
    await delay(50);
  }
}

/** Resolves with `promise`'s value, or rejects after `ms` naming `what`. */
export async function within<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
