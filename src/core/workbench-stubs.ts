import path from "node:path";
import { ChangeSet } from "./changes.js";
import { generateStubs } from "./codegen.js";
import { compileProtos, listProtos } from "./compile.js";
import { DEFAULT_TS_PROTO_OPTIONS, tsProtoParameter } from "./project.js";
import { planScaffold } from "./scaffold.js";

/** The workbench speaks only the wire contract (SPEC §4): the messages of a blank project, stubs and all. */
const TEMPLATE = "blank";
const OUT_DIR = "src/pb/";

/**
 * The stubs of a blank project as `create-consensus` generates them, by file
 * name: what src/workbench/pb/ holds. `root` is only where the plan is made;
 * nothing is written.
 */
export async function workbenchStubs(root: string): Promise<Map<string, Buffer>> {
  const changes = new ChangeSet(root);
  await planScaffold(TEMPLATE, { name: "workbench", toolDependency: "*" }, changes, "write");
  const stubs = new Map<string, Buffer>();
  for (const [file, content] of changes.planned()) {
    if (file.startsWith(OUT_DIR) && content !== null) stubs.set(path.posix.relative(OUT_DIR, file), content);
  }
  return stubs;
}

/** The folder, in this repository, of the few etcd protos `bench kv --target etcd=…` speaks, and their stubs. */
export const ETCD_PB = "src/workbench/etcd-pb";

/**
 * The stubs of those protos (by file name), generated as a project's are, with the default
 * options: what ETCD_PB holds beside them. `repo` is this repository's root.
 */
export async function etcdStubs(repo: string): Promise<Map<string, string>> {
  const compiled = await compileProtos(repo, ETCD_PB, await listProtos(path.join(repo, ETCD_PB)), new Map());
  const stubs = generateStubs(compiled.descriptorSet, compiled.files, tsProtoParameter(DEFAULT_TS_PROTO_OPTIONS));
  return new Map(stubs.map((stub) => [stub.path, stub.content]));
}
