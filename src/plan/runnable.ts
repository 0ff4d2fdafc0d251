import { transformProblems } from '../apply/transforms/index.js';
import { metricsForSlice } from '../analysis/index.js';
import type { TrafficProviderConfig } from '../traffic/provider-config.js';
import { FerryError, isFerryError } from '../util/errors.js';
import { formatPath } from './load.js';
import { PROVIDER_CAPABILITIES, providersThat } from './provider-capabilities.js';
import type { MigrationPlan, Slice } from './schema.js';
import { validatePlanMeaning, type PlanProblem } from './validate.js';

/**
 * "Can this plan run?": everything `ferry run` refuses before it touches anything, as plan
 * problems with the field, the message and the fix. `ferry validate` prints them and
 * `ferry run` throws the first error (`assertRunnable`), so both say the same words.
 *
 * Environment variables: with `env`, each `env:NAME` reference and each provider's
 * `tokenEnv`/`apiKeyEnv` is looked up there; unset (or empty) is an error by default, as in
 * `ferry run`, or a warning with `unsetEnv: 'warning'` (what `ferry validate` does: a plan
 * is often validated on another machine than the one that runs it). Without `env` they are
 * not looked up at all; their form is always checked.
 */
export interface RunnableOptions {
  env?: Record<string, string | undefined>;
  unsetEnv?: 'error' | 'warning';
}

type Path = Array<string | number>;

export function runnableProblems(plan: MigrationPlan, options: RunnableOptions = {}): PlanProblem[] {
  const problems: PlanProblem[] = [];
  const add = (severity: PlanProblem['severity'], path: Path, message: string, fix: string) => problems.push({ severity, path, field: formatPath(path), message, fix });

  if (!plan.spec.target.context) add('error', ['spec', 'target', 'context'], 'the plan names no target context', 'set spec.target.context (`ferry plan --to CONTEXT`)');

  plan.spec.waves.forEach((wave, w) =>
    wave.slices.forEach((slice, s) => checkSliceTraffic(plan, slice, ['spec', 'waves', w, 'slices', s], options, add)),
  );
  checkReferences(plan, options, add);
  // Transform settings the apply stage would refuse, refused before anything is touched.
  for (const problem of transformProblems(plan)) add('error', problem.path, problem.message, problem.fix);
  return problems;
}

type Add = (severity: PlanProblem['severity'], path: Path, message: string, fix: string) => void;

function checkSliceTraffic(plan: MigrationPlan, slice: Slice, path: Path, options: RunnableOptions, add: Add): void {
  const defaults = plan.spec.defaults.traffic;
  const own = slice.traffic;
  const provider = own?.provider ?? defaults.provider;
  const providerPath = own?.provider !== undefined ? [...path, 'traffic', 'provider'] : ['spec', 'defaults', 'traffic', 'provider'];
  if (provider === 'none') return;
  const kind = typeof provider === 'string' ? provider : provider.type;
  const capabilities = PROVIDER_CAPABILITIES[kind];

  if (typeof provider === 'string') {
    add('error', providerPath, `slice ${slice.name} names the ${kind} traffic provider without its settings`, `pass --traffic ${kind} with its flags to \`ferry plan\` (\`ferry plan --help\`), or replace "${kind}" with its settings block { type: ${kind}, ... } (see \`ferry schema\`)`);
  }
  if (!capabilities.judged) {
    add('error', providerPath, `slice ${slice.name}: ${kind} is generate-only: Ferry can write its change batches (traffic.provider.outDir) but cannot send them or judge the ramp, so \`ferry run\` cannot move this slice's traffic`, `apply the change batches in traffic.provider.outDir by hand (aws route53 change-resource-record-sets --change-batch file://...) and give slice ${slice.name} traffic.provider: none so \`ferry run\` moves the rest`);
  } else if (typeof provider !== 'string') {
    checkJudged(plan, slice, provider, path, add);
  } else if (!plan.spec.metrics) {
    // The run's words (src/analysis/index.ts metricsForSlice), for a kind whose settings are still missing.
    add('error', ['spec', 'metrics'], `slice ${slice.name} moves traffic (${kind}) but the plan names no metrics to judge it by`, 'pass --prometheus URL to `ferry plan`, or add spec.metrics: { provider: prometheus, url: http://…:9090, scrapeInterval: 5s }');
  }

  // The slice's own mirror and stickiness replace the defaults' (as in the run's effective slice).
  const mirror = own?.mirror ?? defaults.mirror;
  const mirrorPath = own?.mirror !== undefined ? [...path, 'traffic', 'mirror', 'percent'] : ['spec', 'defaults', 'traffic', 'mirror', 'percent'];
  const mirrorPercent = mirror?.percent ?? 0;
  // The shadow stage needs the mirrored responses compared, which only the router reports.
  if (mirrorPercent > 0 && !(capabilities.mirror && capabilities.compare)) {
    add('error', mirrorPath, `slice ${slice.name}: the ${kind} provider cannot compare mirrored responses, so the shadow stage would judge nothing`, `give slice ${slice.name} traffic.mirror: { percent: 0 }, or route it through the embedded router (provider: router) for the shadow stage`);
  } else if (mirrorPercent > 0 && mirrorPercent < 100 && !capabilities.mirrorPercent) {
    add('error', mirrorPath, `slice ${slice.name}: the ${kind} provider mirrors all requests or none, but traffic.mirror.percent is ${mirrorPercent}`, 'set traffic.mirror.percent to 100 or 0');
  }
  const stickiness = own?.stickiness ?? defaults.stickiness;
  const stickinessPath = own?.stickiness !== undefined ? [...path, 'traffic', 'stickiness'] : ['spec', 'defaults', 'traffic', 'stickiness'];
  if ((stickiness?.cookie || stickiness?.header) && !capabilities.setsStickiness) {
    const unset = `give slice ${slice.name} traffic.stickiness: {} (or remove it from spec.defaults.traffic)`;
    add('error', stickinessPath, `slice ${slice.name}: the ${kind} provider cannot be told how to keep users on one side`, capabilities.sticky ? `configure stickiness in ${kind} itself and ${unset}` : `${unset}, or route the slice through a provider Ferry can set stickiness on (${providersThat('setsStickiness').join(', ')})`);
  }

  if (typeof provider !== 'string' && options.env) {
    const secretEnv = provider.type === 'router' ? { key: 'tokenEnv', name: provider.tokenEnv } : provider.type === 'powerdns' ? { key: 'apiKeyEnv', name: provider.apiKeyEnv } : undefined;
    if (secretEnv) checkEnvSet(secretEnv.name, [...providerPath, secretEnv.key], options, add);
  }
}

/**
 * What the judge will read for the slice, built exactly as the run builds it (no I/O): a
 * refusal there (no spec.metrics, Istio subsets its metrics cannot tell apart, a DNS ramp
 * without cluster contexts…) is reported with the run's own message.
 */
function checkJudged(plan: MigrationPlan, slice: Slice, provider: TrafficProviderConfig, path: Path, add: Add): void {
  const queries = slice.traffic?.queries ?? plan.spec.defaults.traffic.queries;
  try {
    metricsForSlice({
      metrics: plan.spec.metrics,
      traffic: provider,
      ...(queries ? { queries } : {}),
      clusters: { source: plan.spec.source.context, target: plan.spec.target.context },
      sliceName: slice.name,
    });
  } catch (error) {
    if (!isFerryError(error)) throw error;
    add('error', pathOfRunField(error.location.field, slice.name, path), error.message, error.fix ?? 'see docs/architecture.md (Analysis)');
  }
}

/** The run names fields `spec.…` or `slice NAME traffic.…`; the plan problem needs the path. */
function pathOfRunField(field: string | undefined, sliceName: string, slicePath: Path): Path {
  const keys = (text: string): Path => text.split('.').flatMap((part) => {
    const match = /^([^[]+)((?:\[\d+\])*)$/.exec(part);
    if (!match) return [part];
    return [match[1]!, ...[...match[2]!.matchAll(/\[(\d+)\]/g)].map((index) => Number(index[1]))];
  });
  if (!field) return [...slicePath, 'traffic'];
  if (field.startsWith(`slice ${sliceName} `)) return [...slicePath, ...keys(field.slice(`slice ${sliceName} `.length))];
  if (field.startsWith('spec.') || field === 'spec') return keys(field);
  return [...slicePath, 'traffic'];
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
/** Fields whose strings are user content for the cluster, not references for Ferry to resolve. */
const NOT_REFERENCES = new Set(['transforms', 'resources', 'workloads', 'prerequisites', 'crossClusterCalls', 'smoke']);

/** `env:NAME` and `secret:namespace/name/key` anywhere in the plan's settings. */
function checkReferences(plan: MigrationPlan, options: RunnableOptions, add: Add): void {
  const visit = (value: unknown, path: Path): void => {
    if (typeof value === 'string') return checkReference(value, path, plan.spec.source, options, add);
    if (Array.isArray(value)) return value.forEach((item, i) => visit(item, [...path, i]));
    if (value && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) if (!NOT_REFERENCES.has(key)) visit(item, [...path, key]);
    }
  };
  visit(plan.spec, ['spec']);
}

function checkReference(value: string, path: Path, source: MigrationPlan['spec']['source'], options: RunnableOptions, add: Add): void {
  if (value.startsWith('env:')) {
    const name = value.slice(4);
    if (!ENV_NAME.test(name)) {
      add('error', path, `${formatPath(path)} is not a valid env: reference: the variable name must be letters, digits and _, not starting with a digit`, 'write env:NAME, e.g. env:SHOP_DATABASE_URL');
      return;
    }
    checkEnvSet(name, path, options, add);
  } else if (value.startsWith('secret:')) {
    // Values are never echoed: a mistyped reference may hold the secret itself.
    const parts = value.slice(7).split('/');
    const problem = parts.length !== 3
      ? `it has ${parts.length} part${parts.length === 1 ? '' : 's'} separated by /, not 3`
      : !DNS_LABEL.test(parts[0]!) ? 'its namespace is not a Kubernetes namespace name'
        : !DNS_SUBDOMAIN.test(parts[1]!) ? 'its name is not a Kubernetes Secret name'
          : !SECRET_KEY.test(parts[2]!) ? 'its key may hold only letters, digits, -, _ and .' : undefined;
    if (problem) add('error', path, `${formatPath(path)} is not a Secret reference: ${problem}`, 'write secret:NAMESPACE/NAME/KEY, e.g. secret:shop/db-credentials/url (read from the source cluster)');
    else if (!source.context) {
      add('error', path, `${formatPath(path)} reads Secret ${parts[0]}/${parts[1]}, but the plan's source names no cluster`, 'use env:NAME, or set spec.source.context (it may sit beside manifests)');
    }
  }
}

function checkEnvSet(name: string, path: Path, options: RunnableOptions, add: Add): void {
  if (!options.env || options.env[name]) return;
  add(options.unsetEnv ?? 'error', path, `environment variable ${name} is not set`, `export ${name}=... in the shell that runs \`ferry run\``);
}

/**
 * What `ferry run` (and any other caller that is about to act on a plan) throws: the first
 * error of the meaning and runnable checks, with the same field, message and fix as
 * `ferry validate` prints, and file:line:column when the plan came from a file. Environment
 * variables are looked up in `env`, process.env by default; unset is an error here.
 */
export function assertRunnable(
  plan: MigrationPlan,
  options: RunnableOptions & { file?: string; positionOf?: (path: Path) => { line?: number; column?: number } } = {},
): void {
  const problems = [...validatePlanMeaning(plan), ...runnableProblems(plan, { env: options.env ?? process.env, unsetEnv: 'error' })];
  const first = problems.find((problem) => problem.severity === 'error');
  if (!first) return;
  const position = options.positionOf?.(first.path) ?? {};
  const count = problems.filter((problem) => problem.severity === 'error').length;
  throw new FerryError('plan', first.message, {
    location: { ...(options.file ? { file: options.file } : {}), ...(position.line !== undefined ? { line: position.line } : {}), ...(position.column !== undefined ? { column: position.column } : {}), field: first.field },
    fix: count > 1 && options.file ? `${first.fix} (\`ferry validate ${options.file}\` lists all ${count})` : first.fix,
  });
}
