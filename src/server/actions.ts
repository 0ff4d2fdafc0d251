import { setTimeout as delay } from 'node:timers/promises';
/**
 * The dashboard's buttons, doing what the CLI does: approve, pause and abort leave a control
 * request for the process driving the run (as `ferry approve|pause|abort`, same checks);
 * resume and roll back drive the run here, through the library, when no process holds it.
 */
import { approverIdentity, assertApprover, type ApproverIdentity } from '../run/approver.js';
import { resumeRun, rollBackRun, type DriveOptions, type DriveResult, type RollbackSelection } from '../run/drive.js';
import type { MigrationPlan } from '../plan/schema.js';
import { openRun, requestControl } from '../run/store.js';
import { FerryError, toFerryError } from '../util/errors.js';
import type { TokenIdentity } from './auth.js';
import { lockHolder } from './runs.js';

export interface ActionContext {
  stateDir: string;
  /** Credentials of whoever started the server: the starter token's identity is what the target cluster says they are. */
  kubeconfig?: string;
  context?: string;
  /** How an in-process drive is set up (journal trust, progress, attaching its journal to the live feed). */
  driveOptions: () => DriveOptions;
  /** Told when an in-process drive ends (its error is in its journal too). */
  onDriveEnded?: (id: string, result: DriveResult | FerryError) => void;
}

export interface ActionResult {
  run: string;
  requested: 'approve' | 'pause' | 'abort' | 'resume' | 'rollback';
  slice?: string;
  by?: string;
}

/** Who approves with this token: the tokens file's name, or what the target cluster says of the server's credentials. */
export async function approverFor(token: TokenIdentity, plan: MigrationPlan, context: ActionContext): Promise<ApproverIdentity> {
  if (token.kind === 'named') return { username: token.name, groups: [], context: 'ferry ui --tokens', server: 'tokens file' };
  return approverIdentity(plan, { ...(context.kubeconfig ? { kubeconfig: context.kubeconfig } : {}), ...(context.context ? { context: context.context } : {}) });
}

export async function approve(id: string, slice: string, token: TokenIdentity, context: ActionContext): Promise<ActionResult> {
  const { files, plan } = openRun(context.stateDir, id);
  const known = plan.spec.waves.flatMap((wave) => wave.slices);
  const target = known.find((s) => s.name === slice);
  if (!target) throw new FerryError('usage', `no slice "${slice}" in run ${files.id}`, { fix: `use one of: ${known.map((s) => s.name).join(', ')}` });
  const identity = await approverFor(token, plan, context);
  assertApprover(target, identity);
  requestControl(files, { action: 'approve', slice, by: identity.username });
  return { run: files.id, requested: 'approve', slice, by: identity.username };
}

/** How long a stop waits to learn who asks before it is sent without a name. */
const STOP_IDENTITY_WAIT_MS = 2000;

/**
 * Pause and abort need no approver rights, and the journal names who asked (the token's
 * identity). A stop is an emergency brake: when the cluster cannot say who the server's own
 * credentials are within two seconds, it goes through unnamed rather than not at all.
 */
export async function requestStop(id: string, action: 'pause' | 'abort', token: TokenIdentity, context: ActionContext): Promise<ActionResult> {
  const { files, plan } = openRun(context.stateDir, id);
  const by = token.kind === 'named' ? token.name : await Promise.race([
    approverFor(token, plan, context).then((identity) => identity.username, () => undefined),
    delay(STOP_IDENTITY_WAIT_MS, undefined, { ref: false }),
  ]);
  requestControl(files, { action, ...(by ? { by } : {}) });
  return { run: files.id, requested: action, ...(by ? { by } : {}) };
}

/**
 * Starts driving the run in this process and returns at once (the run goes on; the feed shows
 * it). Refused while another process holds the run: the dashboard says who.
 */
export async function drive(id: string, mode: 'resume' | 'rollback', context: ActionContext, only?: RollbackSelection): Promise<ActionResult> {
  const { files } = openRun(context.stateDir, id);
  const holder = lockHolder(files);
  if (holder) {
    throw new FerryError('run-locked', `run ${files.id} is being driven by process ${holder}`, { fix: `pause it (or abort it) first; ${mode === 'resume' ? 'resume' : 'roll back'} once it has stopped` });
  }
  const options = context.driveOptions();
  const driving = mode === 'resume' ? resumeRun(files.id, options) : rollBackRun(files.id, { ...options, ...(only ? { only } : {}) });
  // The lock is taken before the drive's first wait: not holding it now means the drive was refused.
  if (lockHolder(files) !== process.pid) {
    const refused = await driving.then(() => undefined, (error: unknown) => toFerryError(error));
    if (refused) throw refused;
  }
  driving.then((result) => context.onDriveEnded?.(files.id, result), (error: unknown) => context.onDriveEnded?.(files.id, toFerryError(error)));
  return { run: files.id, requested: mode };
}
