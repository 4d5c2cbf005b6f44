// Numbers as the bench shows them, at the terminal and in the report: the
// same on every machine (no locale), a dash for what is not finite.
import { group } from "../check/markup.js";

/** A whole number with thousands separators: `12,345`. */
export function count(value: number): string {
  return Number.isFinite(value) ? group(Math.round(value).toFixed(0)) : "–";
}

/** A rate, three significant digits below 100: `8.53`, `2,153`. */
export function rate(value: number): string {
  return Number.isFinite(value) ? short(value) : "–";
}

/** Seconds the same way: `1.5 s`. */
export function seconds(value: number): string {
  return Number.isFinite(value) ? `${short(value)} s` : "–";
}

/** Microseconds, as milliseconds from 1000 µs on: `850 µs`, `1.25 ms`. */
export function micros(value: number): string {
  if (!Number.isFinite(value)) return "–";
  return Math.abs(value) >= 1000 ? `${short(value / 1000)} ms` : `${short(value)} µs`;
}

/** Three significant digits below 100, whole numbers above: `8.53`, `85.3`, `853`, `8,530`. */
function short(value: number): string {
  const magnitude = Math.abs(value);
  const text = value.toFixed(magnitude < 10 ? 2 : magnitude < 100 ? 1 : 0);
  return group(text.includes(".") ? text.replace(/\.?0+$/, "") : text);
}
