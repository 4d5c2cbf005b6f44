// The wire check: whether new protos can read and write what the old ones did.
import type protobuf from "protobufjs";
import { UserError } from "../errors.js";
import { type Model, parseModel, resolveType } from "./model.js";
import { type Reserved, reservedNames, reservedRanges } from "./numbering.js";
import { SCALAR_TYPES } from "./words.js";

export interface WireOptions {
  /**
   * Reserved names that may leave `reserved` because a new member takes them again (add-message of a
   * removed type): the name's reservation is lifted, its numbers stay reserved.
   */
  readonly revived?: ReadonlySet<string>;
}

/**
 * Throws UserError naming the first incompatibility when `after` (same files → text maps) cannot read
 * and write what `before` did. It refuses all that buf's WIRE category refuses (a field or enum value
 * removed without reserving its number, a changed number, type, label or oneof, a reservation deleted),
 * and more: a renamed field or value, a type changed within the wire (int32 to int64), and a removal
 * that does not reserve the name too, since each changes the generated stubs. Deleting a whole message
 * or enum is allowed, as in buf's WIRE: only fields travel.
 */
export function checkWireCompatible(
  before: ReadonlyMap<string, string>,
  after: ReadonlyMap<string, string>,
  { revived = new Set() }: WireOptions = {},
): void {
  const old = parseModel(before, "");
  const now = parseModel(after, "");
  for (const [fullName, definition] of [...old.names].sort(([a], [b]) => a.localeCompare(b))) {
    const current = now.names.get(fullName);
    if (definition.kind === "message" && current?.kind === "message") {
      const next = current.node;
      for (const field of definition.node.fieldsArray) {
        const label = `field ${fullName}.${field.name}`;
        const moved = next.fields[field.name];
        if (!moved) {
          removed(label, field.id, field.name, next.reserved);
          continue;
        }
        if (moved.id !== field.id) changed(`${label} changed number from ${field.id} to ${moved.id}`);
        const type = fieldType(field, fullName, old);
        const nextType = fieldType(moved, fullName, now);
        if (type !== nextType) changed(`${label} changed type from ${type} to ${nextType}`);
        const oneof = field.partOf?.name;
        const nextOneof = moved.partOf?.name;
        if (oneof !== nextOneof) {
          changed(
            oneof === undefined
              ? `${label} moved into oneof ${nextOneof}`
              : nextOneof === undefined
                ? `${label} moved out of oneof ${oneof}`
                : `${label} moved from oneof ${oneof} to oneof ${nextOneof}`,
          );
        }
      }
      keepsReserved(`message ${fullName}`, definition.node.reserved, next.reserved, revived);
    } else if (definition.kind === "enum" && current?.kind === "enum") {
      const values = current.node.values;
      for (const [valueName, number] of Object.entries(definition.node.values)) {
        const label = `value ${valueName} of enum ${fullName}`;
        if (!Object.hasOwn(values, valueName)) removed(label, number, valueName, current.node.reserved);
        else if (values[valueName] !== number) changed(`${label} changed from ${number} to ${values[valueName]}`);
      }
      keepsReserved(`enum ${fullName}`, definition.node.reserved, current.node.reserved, revived);
    }
  }
}

function changed(what: string): never {
  throw new UserError(`not wire-compatible: ${what}: existing names and numbers must not change`);
}

/** A field or value that is gone: its number and its name must be reserved where it was. */
function removed(label: string, number: number, name: string, reserved: Reserved | undefined): void {
  const numberKept = reservedRanges(reserved).some(([a, b]) => number >= a && number <= b);
  const nameKept = reservedNames(reserved).includes(name);
  if (numberKept && nameKept) return;
  const missing = !numberKept && !nameKept ? "its number and name" : !numberKept ? "its number" : "its name";
  throw new UserError(
    `not wire-compatible: ${label} (number ${number}) was removed without reserving ${missing}: add reserved ${number}; reserved "${name}"; where it was`,
  );
}

/** Every number and name `before` reserves is still reserved in `after` (the ranges may be written otherwise). */
function keepsReserved(
  label: string,
  before: Reserved | undefined,
  after: Reserved | undefined,
  revived: ReadonlySet<string>,
): void {
  const ranges = reservedRanges(after);
  for (const [start, end] of reservedRanges(before)) {
    const lost = uncovered(start, end, ranges);
    if (lost) {
      throw new UserError(
        `not wire-compatible: ${label} no longer reserves ${lost}: a reserved number stays reserved, so that no new field reads old data as its own`,
      );
    }
  }
  const names = new Set(reservedNames(after));
  for (const name of reservedNames(before)) {
    if (!names.has(name) && !revived.has(name)) {
      throw new UserError(
        `not wire-compatible: ${label} no longer reserves the name "${name}": a reserved name stays reserved`,
      );
    }
  }
}

/** The first number of [start, end] that no range covers, written as `5` or `5 to 9`; undefined when all are. */
function uncovered(start: number, end: number, ranges: ReadonlyArray<readonly [number, number]>): string | undefined {
  let next = start;
  for (const [a, b] of [...ranges].sort(([a], [b]) => a - b)) {
    if (a > next) break;
    if (b >= next) next = b + 1;
    if (next > end) return undefined;
  }
  const gapEnd = Math.min(end, ...ranges.filter(([a]) => a > next).map(([a]) => a - 1));
  return gapEnd === next ? `${next}` : `${next} to ${gapEnd}`;
}

/** A field's type with names resolved as protoc does (innermost scope first), and its label. */
function fieldType(field: protobuf.Field, scope: string, model: Model): string {
  const resolve = (ref: string) => (SCALAR_TYPES.has(ref) ? ref : resolveType(model, ref, scope));
  const keyType = (field as unknown as { keyType?: string }).keyType;
  if (field.map && keyType) return `map<${keyType}, ${resolve(field.type)}>`;
  const label = field.repeated ? "repeated " : field.options?.["proto3_optional"] ? "optional " : "";
  return `${label}${resolve(field.type)}`;
}
