// Stands in for node:test while support/declared-tests.ts counts the tests of a project's test
// files: a suite's body runs to declare its tests, as node:test runs it, and no test or hook runs.
// A skipped suite declares nothing (node:test does not count its tests); a skipped test is counted.
type Options = { skip?: unknown; todo?: unknown };
type Body = () => unknown;

export const declared = { tests: 0, skipped: 0 };

function parse(rest: unknown[]): [Options, Body | undefined] {
  const options = rest.find((arg): arg is Options => typeof arg === "object" && arg !== null) ?? {};
  return [options, rest.find((arg): arg is Body => typeof arg === "function")];
}

export function describe(_name: string, ...rest: unknown[]): void {
  const [options, body] = parse(rest);
  if (!options.skip && !options.todo) body?.();
}

export function test(_name: string, ...rest: unknown[]): void {
  const [options] = parse(rest);
  declared.tests++;
  if (options.skip || options.todo) declared.skipped++;
}

export const suite = describe;
export const it = test;
export function before(): void {}
export function after(): void {}
export function beforeEach(): void {}
export function afterEach(): void {}
