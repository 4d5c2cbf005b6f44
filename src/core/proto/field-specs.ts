// The field specs of add-message's --request and --reply flags: "ballot:uint64,deps:repeated int32".
import { UserError } from "../errors.js";

export interface FieldSpec {
  readonly name: string;
  readonly type: string;
  readonly repeated: boolean;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const TYPE_NAME = /^\.?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/;
export const ALLOWED_TYPES =
  "use a scalar such as int32, uint64, bool, string or bytes, or a message or enum of the project";

/** Parses "ballot:uint64,value:bytes,deps:repeated int32" (spaces around tokens allowed; empty string → []). */
export function parseFieldSpecs(text: string, flag: "--request" | "--reply"): FieldSpec[] {
  if (text.trim() === "") return [];
  const specs: FieldSpec[] = [];
  const byName = new Map<string, string>();
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (item === "") {
      throw new UserError(`${flag}: empty field in "${text}": write name:type pairs separated by commas`);
    }
    const colon = item.indexOf(":");
    if (colon < 0) throw new UserError(`${flag}: "${item}" has no type: write it as name:type, e.g. ballot:uint64`);
    const name = item.slice(0, colon).trim();
    let type = item
      .slice(colon + 1)
      .trim()
      .replace(/\s+/g, " ");
    if (name === "") {
      throw new UserError(`${flag}: "${item}" has no field name: write it as name:type, e.g. ballot:uint64`);
    }
    if (!IDENTIFIER.test(name)) {
      throw new UserError(
        `${flag}: "${name}" is not a field name: use letters, digits and _, starting with a letter, e.g. ballot`,
      );
    }
    const repeated = /^repeated(?: |$)/.test(type);
    if (repeated) type = type.slice("repeated".length).trim();
    if (type === "") throw new UserError(`${flag}: "${item}" has no type: write it as name:type, e.g. ballot:uint64`);
    if (!TYPE_NAME.test(type)) {
      throw new UserError(`${flag}: "${type}" (field ${name}) is not a type: ${ALLOWED_TYPES}`);
    }
    const key = jsonKey(name);
    const other = byName.get(key);
    if (other === name) throw new UserError(`${flag}: field "${name}" is given twice: give each field once`);
    if (other !== undefined) {
      throw new UserError(
        `${flag}: fields "${other}" and "${name}" differ only in case or underscores, so they clash in JSON and TypeScript: rename one`,
      );
    }
    byName.set(key, name);
    specs.push({ name, type, repeated });
  }
  return specs;
}

/** A field's JSON name (lowerCamelCase as protoc derives it), case-folded: equal keys clash. */
export function jsonKey(name: string): string {
  return name.replace(/_+([a-zA-Z0-9]?)/g, (_, next: string) => next.toUpperCase()).toLowerCase();
}
