import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (tests and benches run from dist/test/…). */
export const REPO = path.resolve(fileURLToPath(import.meta.url), "../../../..");
export const CONSENSUS_BIN = path.join(REPO, "bin/consensus.js");
export const CREATE_BIN = path.join(REPO, "bin/create-consensus.js");
export const CANONICAL_PROTOS = path.join(REPO, "proto");

/**
 * The Node.js the tests run the bins and generated projects with: the binary
 * CONSENSUS_TEST_NODE names (to test another Node line: `npm run test:lines`),
 * else the one running the tests.
 */
export const NODE = process.env.CONSENSUS_TEST_NODE ?? process.execPath;

const require = createRequire(import.meta.url);

/** The native buf binary of @bufbuild/buf (its bin script is a Node wrapper around it). */
export function bufBinary(): string {
  const packages: Record<string, string> = {
    "linux x64": "@bufbuild/buf-linux-x64",
    "linux arm64": "@bufbuild/buf-linux-aarch64",
    "darwin x64": "@bufbuild/buf-darwin-x64",
    "darwin arm64": "@bufbuild/buf-darwin-arm64",
  };
  const pkg = packages[`${process.platform} ${process.arch}`];
  if (!pkg) throw new Error(`no buf binary for ${process.platform}/${process.arch}`);
  return require.resolve(`${pkg}/bin/buf`);
}

/** ts-proto's protoc plugin, as buf runs it. */
export const TS_PROTO_PLUGIN = path.join(REPO, "node_modules/.bin/protoc-gen-ts_proto");
