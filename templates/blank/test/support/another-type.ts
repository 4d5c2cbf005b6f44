// A second Type value, ANOTHER, one past the largest the envelope has. The
// blank envelope has BEACON alone, so no request can name one type while it
// carries the message of another; imported before the runtime (src/envelope.ts
// reads the enum once, as it loads), this makes the replica know two.
import { Type } from "../../src/pb/envelope.js";

const values = Object.values(Type).filter((value): value is number => typeof value === "number");
export const ANOTHER = (Math.max(...values) + 1) as Type;
const table = Type as unknown as Record<string | number, string | number>;
table.ANOTHER = ANOTHER;
table[ANOTHER] = "ANOTHER";
