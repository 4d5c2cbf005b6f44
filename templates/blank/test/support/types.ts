// Two Type values the tests need, derived from the envelope as it is now, so
// that they stay right however many types add-message has added. ANOTHER, one
// past the largest the envelope has: the blank envelope has BEACON alone, so no
// request could name one type while it carries the message of another;
// imported before the runtime (src/envelope.ts reads the enum once, as it
// loads), this makes the replica know two. UNKNOWN, one past ANOTHER: a type
// no replica here knows.
import { Type } from "../../src/pb/envelope.js";

const values = Object.values(Type).filter((value): value is number => typeof value === "number");
export const ANOTHER = (Math.max(...values) + 1) as Type;
const table = Type as unknown as Record<string | number, string | number>;
table.ANOTHER = ANOTHER;
table[ANOTHER] = "ANOTHER";
export const UNKNOWN = (ANOTHER + 1) as Type;
