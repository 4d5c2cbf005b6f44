// Words of the proto language, and the scalar types a field may have.

/** A set of words written one after another. */
export const words = (text: string): ReadonlySet<string> => new Set(text.trim().split(/\s+/));

export const SCALAR_TYPES = words(`
  double float int32 int64 uint32 uint64 sint32 sint64 fixed32 fixed64 sfixed32 sfixed64 bool string bytes
`);

/** Words of the proto language (and the scalar type names): never a oneof field or a Type value. */
export const PROTO_KEYWORDS = new Set([
  ...SCALAR_TYPES,
  ...words(`
    syntax edition import weak public package option message enum service rpc returns stream oneof map
    repeated optional required reserved extensions extend group to max true false inf nan
  `),
]);
