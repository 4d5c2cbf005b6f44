// JSON lines, one value per line: how histories, traces and results files are written.

/**
 * Each value of JSON-lines `text` with its 1-based line, blank lines skipped;
 * throws `notJson(line)` at the first line that is not JSON (V8's own message
 * differs between Node lines and says nothing the line number does not).
 */
export function* jsonLines(
  text: string,
  notJson: (line: number) => Error,
): Generator<{ line: number; value: unknown }> {
  let line = 0;
  for (let start = 0; start < text.length;) {
    const end = text.indexOf("\n", start);
    const body = text.slice(start, end === -1 ? text.length : end);
    start = end === -1 ? text.length : end + 1;
    line++;
    if (body.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      throw notJson(line);
    }
    yield { line, value };
  }
}
