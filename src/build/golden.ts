// `npm run golden:update`, after an intended change of generated output (a ts-proto upgrade): writes
// the stubs of the canonical proto set (proto/), each file in one place. Those of a blank project
// (the wire contract) go to src/workbench/pb/, which the workbench speaks with and the package ships;
// the rest to test/golden/canonical/. The tests compare what the tool generates now with both. It
// also writes the stubs of the etcd protos (src/workbench/etcd-pb/) beside them, and the checker's page
// of a fixed history (test/golden/check/history.jsonl) to test/golden/check/history.html.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { checkHistory, parseHistory, renderHistory } from "../check/index.js";
import { generateStubs } from "../core/codegen.js";
import { compileProtos, listProtos } from "../core/compile.js";
import { DEFAULT_TS_PROTO_OPTIONS, tsProtoParameter } from "../core/project.js";
import { ETCD_PB, etcdStubs, workbenchStubs } from "../core/workbench-stubs.js";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const WORKBENCH = path.join(REPO, "src/workbench/pb");
const GOLDEN = path.join(REPO, "test/golden/canonical");
const PAGE = path.join(REPO, "test/golden/check/history");

const scratch = mkdtempSync(path.join(os.tmpdir(), "consensus-golden-"));
try {
  const workbench = await workbenchStubs(scratch);
  const compiled = await compileProtos(REPO, "proto", await listProtos(path.join(REPO, "proto")), new Map());
  const canonical = generateStubs(compiled.descriptorSet, compiled.files, tsProtoParameter(DEFAULT_TS_PROTO_OPTIONS));
  for (const [file, content] of workbench) {
    const same = canonical.find((stub) => stub.path === file);
    if (same === undefined || same.content !== content.toString()) {
      throw new Error(`${file}: a blank project's stub is not the canonical set's; one file cannot be both`);
    }
  }
  rmSync(WORKBENCH, { recursive: true, force: true });
  rmSync(GOLDEN, { recursive: true, force: true });
  for (const { path: file, content } of canonical) {
    const out = path.join(workbench.has(file) ? WORKBENCH : GOLDEN, file);
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, content);
  }
  for (const [file, content] of await etcdStubs(REPO)) writeFileSync(path.join(REPO, ETCD_PB, file), content);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
const history = parseHistory(readFileSync(`${PAGE}.jsonl`, "utf8"));
writeFileSync(`${PAGE}.html`, renderHistory(history, await checkHistory(history), "history.jsonl"));
