// Porcupine's test histories (its test_data folder) as SPEC §6 events, so
// that the checker can be measured on the corpus Porcupine is measured on:
// Jepsen's etcd cas-register logs, and the kv histories of get/put/append.

export type Event = Record<string, unknown>;

/**
 * A Jepsen log (`INFO  jepsen.util - 5\t:invoke\t:cas\t[3 0]`): one register.
 * A completion carries its invoke's value (an info one says `:timed-out`),
 * except an ok read, which carries what was read.
 */
export function fromJepsen(text: string): Event[] {
  const events: Event[] = [];
  const open = new Map<number, unknown>();
  for (const line of text.split("\n")) {
    const match = /^INFO\s+jepsen\.util\s+-\s+(\d+)\t:(invoke|ok|fail|info)\t:(read|write|cas)\t(.*)$/.exec(line);
    if (!match) continue;
    const [, p, type, f, raw] = match;
    const process = Number(p);
    const value = jepsenValue(raw!.trim());
    if (type === "invoke") open.set(process, f === "read" ? null : value);
    const invoked = open.get(process);
    events.push({ process, type, f, value: type === "ok" && f === "read" ? value : invoked });
    if (type !== "invoke") open.delete(process);
  }
  return events;
}

function jepsenValue(raw: string): unknown {
  if (raw === "nil" || raw.startsWith(":")) return null;
  const pair = /^\[(-?\d+) (-?\d+)\]$/.exec(raw);
  return pair ? [Number(pair[1]), Number(pair[2])] : Number(raw);
}

/**
 * A kv history (`{:process 0, :type :invoke, :f :get, :key "6", :value nil}`):
 * get, put and append on string keys. In Porcupine's model a key starts as
 * "" (SPEC §6: null), so each key gets a write of "" before everything.
 */
export function fromKv(text: string): Event[] {
  const events: Event[] = [];
  const keys = new Set<string>();
  const f = { get: "read", put: "write", append: "append" } as Record<string, string>;
  for (const line of text.split("\n")) {
    const match =
      /^\{:process (\d+), :type :(\w+), :f :(\w+), :key ("(?:[^"\\]|\\.)*"), :value (nil|"(?:[^"\\]|\\.)*")\}$/.exec(
        line.trim(),
      );
    if (!match) continue;
    const [, process, type, op, key, value] = match;
    const k = JSON.parse(key!) as string;
    keys.add(k);
    events.push({
      process: Number(process),
      type,
      f: f[op!],
      key: k,
      value: value === "nil" ? null : JSON.parse(value!),
    });
  }
  const start = [...keys].flatMap((key) => [
    { process: "start", type: "invoke", f: "write", key, value: "" },
    { process: "start", type: "ok", f: "write", key, value: "" },
  ]);
  return [...start, ...events];
}
