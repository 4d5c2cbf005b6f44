import { UserError } from "../core/errors.js";

/** The integer `value` of `flag`; a one-line error unless it is one from `min` to `max`. */
export function integer(value: string, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range =
      max < Number.MAX_SAFE_INTEGER
        ? `an integer from ${min} to ${max}`
        : min === 0
          ? "a whole number"
          : `an integer of at least ${min}`;
    throw new UserError(`${flag} ${JSON.stringify(value)} is not ${range}`);
  }
  return n;
}

/** The seconds `value` of `flag` (a decimal number from `min` to a day). */
export function seconds(value: string, flag: string, min = 0.001): number {
  const n = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : NaN;
  if (!(n >= min) || n > 86_400) throw new UserError(`${flag} ${JSON.stringify(value)} is not a number of seconds`);
  return n;
}

/** The fraction `value` of `flag`, from 0 to 1. */
export function fraction(value: string, flag: string): number {
  const n = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : NaN;
  if (!(n >= 0 && n <= 1)) throw new UserError(`${flag} ${JSON.stringify(value)} is not a fraction from 0 to 1`);
  return n;
}
