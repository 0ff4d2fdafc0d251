/**
 * A Deployment's RollingUpdate bounds, as apps/v1 validates and the deployment controller
 * resolves them: integers or percentages of spec.replicas, maxSurge rounded up,
 * maxUnavailable rounded down, not both zero.
 * https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#rolling-update-deployment
 */
import type { StatusCause } from './status.js';

type Obj = Record<string, any>;

const PERCENT = /^[0-9]+%$/;

/** An IntOrString as a count of `total`, percentages rounded up or down (intstr.GetScaledValueFromIntOrPercent). */
export function scaledValue(value: unknown, total: number, roundUp: boolean): number {
  if (typeof value === 'number') return value;
  const text = String(value);
  if (PERCENT.test(text)) {
    const scaled = (total * Number(text.slice(0, -1))) / 100;
    return roundUp ? Math.ceil(scaled) : Math.floor(scaled);
  }
  return Number(text) || 0;
}

/**
 * maxSurge and maxUnavailable as pod counts (deploymentutil.ResolveFenceposts): when both
 * resolve to 0 (small replica counts), maxUnavailable becomes 1 so a rollout can proceed.
 * Recreate has neither.
 */
export function resolveFenceposts(strategy: Obj | undefined, desired: number): { maxSurge: number; maxUnavailable: number } {
  if (strategy?.type === 'Recreate') return { maxSurge: 0, maxUnavailable: 0 };
  const rollingUpdate = strategy?.rollingUpdate as Obj | undefined;
  const maxSurge = scaledValue(rollingUpdate?.maxSurge ?? '25%', desired, true);
  let maxUnavailable = scaledValue(rollingUpdate?.maxUnavailable ?? '25%', desired, false);
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable };
}

/** How Go prints an intstr.IntOrString with %#v, which is how the real server quotes the value. */
function goIntOrString(value: unknown): string {
  return typeof value === 'number'
    ? `intstr.IntOrString{Type:0, IntVal:${value}, StrVal:""}`
    : `intstr.IntOrString{Type:1, IntVal:0, StrVal:${JSON.stringify(String(value))}}`;
}

function isZero(value: unknown): boolean {
  return typeof value === 'number' ? value === 0 : String(value) === '0%' || String(value) === '0';
}

/** apps/v1 validation of spec.strategy.rollingUpdate (ValidateRollingUpdateDeployment). */
export function rollingUpdateProblems(spec: Obj | undefined): StatusCause[] {
  const strategy = spec?.strategy as Obj | undefined;
  const rollingUpdate = strategy?.rollingUpdate as Obj | undefined;
  if (!rollingUpdate) return [];
  const path = 'spec.strategy.rollingUpdate';
  const causes: StatusCause[] = [];
  if (strategy?.type === 'Recreate') {
    return [{ type: 'FieldValueForbidden', field: path, message: 'Forbidden: may not be specified when strategy `type` is \'Recreate\'' }];
  }
  for (const field of ['maxUnavailable', 'maxSurge']) {
    const value = rollingUpdate[field];
    if (value === undefined) continue;
    const where = `${path}.${field}`;
    if (typeof value === 'number') {
      if (value < 0) causes.push({ type: 'FieldValueInvalid', field: where, message: `Invalid value: ${value}: must be greater than or equal to 0` });
    } else if (!PERCENT.test(String(value))) {
      causes.push({ type: 'FieldValueInvalid', field: where, message: `Invalid value: ${JSON.stringify(String(value))}: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')` });
    } else if (field === 'maxUnavailable' && Number(String(value).slice(0, -1)) > 100) {
      causes.push({ type: 'FieldValueInvalid', field: where, message: `Invalid value: ${JSON.stringify(String(value))}: must not be greater than 100%` });
    }
  }
  const surge = rollingUpdate.maxSurge ?? '25%';
  const unavailable = rollingUpdate.maxUnavailable ?? '25%';
  if (isZero(surge) && isZero(unavailable)) {
    causes.push({ type: 'FieldValueInvalid', field: `${path}.maxUnavailable`, message: `Invalid value: ${goIntOrString(unavailable)}: may not be 0 when \`maxSurge\` is 0` });
  }
  return causes;
}
