// Every kind of bad input SPEC §6 names (and a few more), for the parser's
// test and the CLI's: the lines of a file, the line refused and the reason.

export interface BadInput {
  name: string;
  lines: string[];
  line: number;
  reason: string;
}

const invoke = '{"process": 0, "type": "invoke", "f": "write", "key": "x", "value": 1}';
const TABLE: [name: string, lines: string[], line: number, reason: string][] = [
  ["not JSON", [invoke, '{"process": 0, "type": "ok",'], 2, "not JSON"],
  ["not an object", ["[1, 2]"], 1, "not a JSON object"],
  ["no process", ['{"type": "invoke", "f": "read"}'], 1, "no process"],
  [
    "a process that is neither",
    ['{"process": [1], "type": "invoke", "f": "read"}'],
    1,
    "process [1] is not a number or a string",
  ],
  ["no type", ['{"process": 0, "f": "read"}'], 1, "no type"],
  [
    "an unknown type",
    ['{"process": 0, "type": "done", "f": "read"}'],
    1,
    'unknown type "done": invoke, ok, fail or info',
  ],
  ["no f", ['{"process": 0, "type": "invoke"}'], 1, "no f"],
  [
    "an unknown f",
    ['{"process": 0, "type": "invoke", "f": "delete"}'],
    1,
    'unknown f "delete": read, write, cas or append',
  ],
  [
    "a key that is neither",
    ['{"process": 0, "type": "invoke", "f": "read", "key": true}'],
    1,
    "key true is not a string or a number",
  ],
  [
    "a completion with no open invoke",
    ["", '{"process": 3, "type": "ok", "f": "read", "value": 1}'],
    2,
    "ok with no open invoke of process 3",
  ],
  ["a second invoke while one is open", [invoke, invoke], 2, "invoke while process 0 has one open since line 1"],
  [
    "a completion whose f differs",
    [invoke, '{"process": 0, "type": "ok", "f": "read", "key": "x", "value": 1}'],
    2,
    'f "read" differs from its invoke\'s "write" (line 1)',
  ],
  [
    "a completion whose key differs",
    [invoke, '{"process": 0, "type": "ok", "f": "write", "key": "y", "value": 1}'],
    2,
    'key "y" differs from its invoke\'s "x" (line 1)',
  ],
  [
    "a completion without the invoke's key",
    [invoke, '{"process": 0, "type": "ok", "f": "write", "value": 1}'],
    2,
    'key none differs from its invoke\'s "x" (line 1)',
  ],
  [
    "a cas value that is not a pair",
    ['{"process": 0, "type": "invoke", "f": "cas", "value": [1]}'],
    1,
    "a cas value [1] is not a pair [expected, new] of JSON scalars",
  ],
  ["a cas without a value", ['{"process": 0, "type": "invoke", "f": "cas"}'], 1, "a cas has no value"],
  [
    "a write of an object",
    ['{"process": 0, "type": "invoke", "f": "write", "value": {"a": 1}}'],
    1,
    'a write\'s value {"a":1} is not a JSON scalar',
  ],
  [
    "an append of a number",
    ['{"process": 0, "type": "invoke", "f": "append", "value": 1}'],
    1,
    "an append's value 1 is not a string",
  ],
  [
    "an ok read without a value",
    ['{"process": 0, "type": "invoke", "f": "read"}', '{"process": 0, "type": "ok", "f": "read"}'],
    2,
    "an ok read has no value",
  ],
  [
    "an ok read of a list",
    ['{"process": 0, "type": "invoke", "f": "read"}', '{"process": 0, "type": "ok", "f": "read", "value": [1]}'],
    2,
    "a read's value [1] is not a JSON scalar",
  ],
];

export const BAD_INPUTS: BadInput[] = TABLE.map(([name, lines, line, reason]) => ({ name, lines, line, reason }));
