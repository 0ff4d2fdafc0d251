import { compareStrings } from '../util/stable.js';
import { stronglyConnectedComponents } from '../graph/scc.js';
import type { MigrationPlan } from './schema.js';
import { formatPath } from './load.js';

export interface PlanProblem {
  severity: 'error' | 'warning';
  /** Dotted field path, e.g. spec.waves[0].slices[2].dependsOn[0]. */
  field: string;
  path: Array<string | number>;
  message: string;
  fix: string;
}

/**
 * Checks a schema-valid plan for meaning: dependencies on unknown slices, weights that do
 * not climb to 100, resources in two slices, cycles between slices, and waves that move a
 * slice before one of its consumers (consumers-first) or providers (providers-first).
 */
export function validatePlanMeaning(plan: MigrationPlan): PlanProblem[] {
  const problems: PlanProblem[] = [];
  const add = (severity: PlanProblem['severity'], path: Array<string | number>, message: string, fix: string) =>
    problems.push({ severity, path, field: formatPath(path), message, fix });

  checkSteps(plan.spec.defaults.traffic.steps, ['spec', 'defaults', 'traffic', 'steps'], add);
  // Anyone holding a Slack incoming-webhook URL can post to the channel: plans keep no secrets.
  plan.spec.notifications?.forEach((receiver, r) => {
    if (receiver.type === 'slack' && receiver.url !== undefined) {
      add('warning', ['spec', 'notifications', r, 'url'], `notification receiver "${receiver.name}" has its Slack webhook URL written in the plan, and a Slack webhook URL is a secret`, 'give it as urlFrom: env:NAME or urlFrom: secret:NAMESPACE/NAME/KEY instead of url');
    }
  });
  const waveOf = new Map<string, number>();
  const where = new Map<string, Array<string | number>>();
  plan.spec.waves.forEach((wave, w) =>
    wave.slices.forEach((slice, s) => {
      const path = ['spec', 'waves', w, 'slices', s];
      if (waveOf.has(slice.name)) add('error', [...path, 'name'], `slice "${slice.name}" is defined twice`, 'give every slice a unique name');
      waveOf.set(slice.name, w);
      where.set(slice.name, path);
    }),
  );

  const owners = new Map<string, string>();
  plan.spec.waves.forEach((wave, w) =>
    wave.slices.forEach((slice, s) => {
      const path = ['spec', 'waves', w, 'slices', s];
      if (slice.traffic?.steps) checkSteps(slice.traffic.steps, [...path, 'traffic', 'steps'], add);
      slice.dependsOn.forEach((dependency, d) => {
        if (!waveOf.has(dependency)) {
          add('error', [...path, 'dependsOn', d], `slice "${slice.name}" depends on unknown slice "${dependency}"`, `use one of the plan's slices, or remove "${dependency}"`);
          return;
        }
        const ours = w;
        const theirs = waveOf.get(dependency)!;
        const ok = plan.spec.order === 'consumers-first' ? ours < theirs || slice.name === dependency : ours > theirs;
        if (!ok && dependency !== slice.name) {
          add('warning', [...path, 'dependsOn', d], `slice "${slice.name}" (wave ${ours + 1}) depends on "${dependency}" (wave ${theirs + 1}), against the ${plan.spec.order} order`, 'move one of the two slices to another wave, or accept the extra cross-cluster calls');
        }
      });
      slice.resources.forEach((resource, r) => {
        const key = `${resource.apiVersion.split('/').length > 1 ? resource.apiVersion.split('/')[0] : ''}/${resource.kind}/${resource.namespace ?? ''}/${resource.name}`;
        const owner = owners.get(key);
        if (owner !== undefined) add('error', [...path, 'resources', r], `${resource.kind} ${resource.namespace ? `${resource.namespace}/` : ''}${resource.name} is in slice "${owner}" and in "${slice.name}"`, 'keep each resource in one slice');
        else owners.set(key, slice.name);
      });
    }),
  );

  const dependencies = new Map<string, string[]>();
  for (const wave of plan.spec.waves) for (const slice of wave.slices) dependencies.set(slice.name, slice.dependsOn.filter((d) => waveOf.has(d)));
  for (const component of stronglyConnectedComponents([...dependencies.keys()].sort(compareStrings), (node) => dependencies.get(node) ?? [])) {
    const selfLoop = component.length === 1 && (dependencies.get(component[0]!) ?? []).includes(component[0]!);
    if (component.length > 1 || selfLoop) {
      add('error', [...where.get(component[0]!)!, 'dependsOn'], `slices depend on each other in a cycle: ${component.join(' → ')} → ${component[0]}`, 'merge the slices of a cycle into one slice (they must move together)');
    }
  }
  return problems;
}

function checkSteps(steps: number[], path: Array<string | number>, add: (severity: PlanProblem['severity'], path: Array<string | number>, message: string, fix: string) => void) {
  if (steps.length > 0 && steps[steps.length - 1] !== 100) add('error', path, `traffic weights end at ${steps[steps.length - 1]}, not 100`, 'make the last step 100 so the slice finishes on the target');
  for (let i = 1; i < steps.length; i++) {
    if (steps[i]! <= steps[i - 1]!) {
      add('error', [...path, i], `traffic weights must rise: ${steps[i - 1]} is followed by ${steps[i]}`, 'list the steps in increasing order, e.g. [1, 10, 50, 100]');
      break;
    }
  }
}
