import { FileDescriptorSet, type CodeGeneratorRequest, type FileDescriptorProto } from "ts-proto-descriptors";
import { createFileContext } from "ts-proto/build/src/context.js";
import { generateFile, makeUtils } from "ts-proto/build/src/main.js";
import { getTsPoetOpts, optionsFromParameter } from "ts-proto/build/src/options.js";
import { createTypeMap } from "ts-proto/build/src/types.js";
import type { GeneratedFile } from "./codegen.js";

// Bundled on its own, as CommonJS (dist/cli/ts-proto.cjs), for codegen.ts to load with V8's code
// cache: it imports nothing of this package's but types, so no class exists twice.

/** The versions the stubs' header names: ts-proto's and protoc's. */
export interface Versions {
  readonly tsProto: string;
  readonly protoc: string;
}

/** A file ts-proto failed on: the message names it. */
export class GenerateError extends Error {
  override readonly name = "GenerateError";
}

/**
 * Runs ts-proto inside this process on a compiled descriptor set: the same
 * steps as its protoc plugin entry (`protoc-gen-ts_proto`), minus the second
 * Node process and the CodeGeneratorRequest round trip. ts-proto is pinned to
 * an exact version because these modules are its internals; the golden tests
 * compare the result with `buf generate` running the real plugin.
 *
 * @param descriptorSet serialized FileDescriptorSet (with imports and source info)
 * @param filesToGenerate proto file names as the compiler named them (relative to the proto root)
 * @param parameter the plugin parameter, `k=v,k=v`
 * @param unchanged protos whose stubs are left as they are, even when a file to generate imports them
 */
export function generateFiles(
  descriptorSet: Uint8Array,
  filesToGenerate: readonly string[],
  parameter: string,
  unchanged: readonly string[],
  versions: Versions,
): GeneratedFile[] {
  // Decoded descriptors keep defaults on the prototype: ts-proto tells a oneof
  // member by an own `oneofIndex`, so they must not be copied or re-created.
  const { file: protoFile } = FileDescriptorSet.decode(descriptorSet);
  const request = { fileToGenerate: [...filesToGenerate], parameter, protoFile } as CodeGeneratorRequest;
  const options = optionsFromParameter(parameter);
  const ctx = { typeMap: createTypeMap(request, options), options, utils: makeUtils(options) };

  const byName = new Map(protoFile.map((file) => [file.name, file]));
  const selected: FileDescriptorProto[] = [];
  const seen = new Set<string>(unchanged);
  // As the plugin does: with emitImportedFiles (the default) imported files are
  // generated too, so that imports of well-known types resolve.
  const select = (names: readonly string[]) => {
    for (const name of names) {
      if (options.M[name] || seen.has(name)) continue;
      seen.add(name);
      const file = byName.get(name);
      if (!file) continue;
      selected.push(file);
      if (options.emitImportedFiles) select(file.dependency);
    }
  };
  select(filesToGenerate);

  const generated = selected.map((file) => {
    try {
      const [path, code] = generateFile({ ...ctx, currentFile: createFileContext(file) }, file);
      const content = code.toString({ ...getTsPoetOpts(options, versions.tsProto, versions.protoc, file.name), path });
      return { path, content };
    } catch (err) {
      throw new GenerateError(`ts-proto could not generate ${file.name}: ${(err as Error).message}`);
    }
  });
  return generated.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
