import { ChangeSet, recover, type Change } from "../core/changes.js";
import { diagnose, type Diagnosis } from "../core/doctor.js";
import { findProject } from "../core/project.js";

export interface DoctorOptions {
  readonly cwd: string;
  /** The git revision the protos are checked against (default HEAD, skipped where there is none). */
  readonly against?: string;
  /** Commit the repairs of what is mechanical. */
  readonly fix?: boolean;
  readonly signal?: AbortSignal;
}

export interface DoctorResult extends Diagnosis {
  /** What --fix changed (nothing without it). */
  readonly changes: Change[];
}

/** `consensus doctor [--against <ref>] [--fix]`. */
export async function doctor(options: DoctorOptions): Promise<DoctorResult> {
  const project = findProject(options.cwd);
  await recover(project.root);
  const repairs = new ChangeSet(project.root);
  const diagnosis = await diagnose(project, repairs, { against: options.against });
  const changes = options.fix ? await repairs.commit(options.signal) : [];
  return { ...diagnosis, changes };
}
