// Seeded randomness: one independent stream per purpose (the network, the
// faults, each client, each replica), so that drawing more numbers for one
// purpose, or adding a replica, does not change what the others draw.
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { mersenne } from "pure-rand/generator/mersenne";
import type { RandomGenerator } from "pure-rand/types/RandomGenerator";

export class Random {
  private readonly generator: RandomGenerator;

  /** The stream of `purpose` under `seed`: the same pair always gives the same numbers. */
  constructor(
    readonly seed: number,
    readonly purpose: string,
  ) {
    // Mersenne Twister's seeding scatters nearby seeds; hashing the pair makes one 32-bit seed of both.
    this.generator = mersenne(fnv1a(`${seed}/${purpose}`));
  }

  /** A number in [0, 1); bound, so that it can be handed over as a replica's `random`. */
  readonly next = (): number => uniformFloat64(this.generator);

  /** An integer from `min` to `max`, both included. */
  int(min: number, max: number): number {
    return uniformInt(this.generator, min, max);
  }

  /** A number in [min, max). */
  between(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  /** One of `items`, which must not be empty. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("nothing to pick from");
    return items[this.int(0, items.length - 1)]!;
  }

  /** `items` in a drawn order (Fisher–Yates), as a new array. */
  shuffle<T>(items: readonly T[]): T[] {
    const order = [...items];
    for (let i = order.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    return order;
  }
}

/** 32-bit FNV-1a of a string's UTF-16 code units. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}
