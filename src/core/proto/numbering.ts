// Field and enum numbers: what is used or reserved, and the next free one.
import type protobuf from "protobufjs";
import { UserError } from "../errors.js";

export const MAX_ENUM_VALUE = 2147483647;
const MAX_FIELD_NUMBER = 536870911;
/** Field numbers reserved by the protobuf implementation. */
const IMPLEMENTATION_RESERVED: readonly [number, number] = [19000, 19999];

export type Reserved = ReadonlyArray<number[] | string>;

export function reservedRanges(reserved: Reserved | undefined): Array<readonly [number, number]> {
  return (reserved ?? []).filter((entry): entry is number[] => typeof entry !== "string").map(([a, b]) => [a!, b!]);
}

export function reservedNames(reserved: Reserved | undefined): string[] {
  return (reserved ?? []).filter((entry): entry is string => typeof entry === "string");
}

export function highest(used: readonly number[], reserved: Reserved | undefined): number {
  return Math.max(-1, ...used, ...reservedRanges(reserved).map(([, end]) => end));
}

export function isFreeField(message: protobuf.Type, id: number): boolean {
  if (message.fieldsArray.some((field) => field.id === id)) return false;
  if (reservedRanges(message.reserved).some(([a, b]) => id >= a && id <= b)) return false;
  return !(id >= IMPLEMENTATION_RESERVED[0] && id <= IMPLEMENTATION_RESERVED[1]) && id >= 1 && id <= MAX_FIELD_NUMBER;
}

export function nextFieldNumber(message: protobuf.Type, shown: string): number {
  let next =
    highest(
      message.fieldsArray.map((field) => field.id),
      message.reserved,
    ) + 1;
  if (next >= IMPLEMENTATION_RESERVED[0] && next <= IMPLEMENTATION_RESERVED[1]) next = IMPLEMENTATION_RESERVED[1] + 1;
  if (next > MAX_FIELD_NUMBER) {
    throw new UserError(
      `${shown}: message ${message.name} uses or reserves field numbers up to the maximum: free some of its reserved range`,
    );
  }
  return Math.max(next, 1);
}
