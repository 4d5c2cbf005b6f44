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

/**
 * The protocol's own counters of `servers` (their metrics lines'), summed by
 * name: `elections 2, path.fast 9,812 (98.8%), path.slow 120 (1.2%)`, where
 * the counters of one group (the name before a dot) each show their share of
 * the group's total. Empty when none counted anything.
 */
export function counters(servers: readonly { counters?: Record<string, unknown> }[]): string {
  const totals = new Map<string, number>();
  for (const server of servers) {
    for (const [name, value] of Object.entries(server.counters ?? {})) {
      if (typeof value === "number" && Number.isFinite(value)) totals.set(name, (totals.get(name) ?? 0) + value);
    }
  }
  const groupOf = (name: string) => (name.includes(".") ? name.slice(0, name.indexOf(".")) : undefined);
  const groups = new Map<string, number>();
  for (const [name, total] of totals) {
    const of = groupOf(name);
    if (of !== undefined) groups.set(of, (groups.get(of) ?? 0) + total);
  }
  // Sorted with < rather than localeCompare, which depends on the machine's locale.
  const names = [...totals.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return names
    .map((name) => {
      const total = totals.get(name)!;
      const of = groupOf(name);
      const whole = of === undefined ? undefined : groups.get(of);
      const share = whole === undefined || whole === 0 ? "" : ` (${((100 * total) / whole).toFixed(1)}%)`;
      return `${name} ${count(total)}${share}`;
    })
    .join(", ");
}

/** Three significant digits below 100, whole numbers above: `8.53`, `85.3`, `853`, `8,530`. */
function short(value: number): string {
  const magnitude = Math.abs(value);
  const text = value.toFixed(magnitude < 10 ? 2 : magnitude < 100 ? 1 : 0);
  return group(text.includes(".") ? text.replace(/\.?0+$/, "") : text);
}
