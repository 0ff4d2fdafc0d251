import { FerryError } from '../util/errors.js';

/**
 * Field managers Ferry itself writes with outside server-side apply: rollback and
 * decommission scale workloads to zero with a merge patch. Their ownership of spec.replicas
 * must not stop the next `ferry apply` (re-running a slice after a rollback), so a conflict
 * with only these managers is taken over; any other manager's conflict stops the apply.
 */
export const FERRY_ROLLBACK_MANAGER = 'ferry-rollback';
export const FERRY_DECOMMISSION_MANAGER = 'ferry-decommission';
/** Switches singletons (CronJobs' suspend, singleton replicas) between clusters at cutover and rollback. */
export const FERRY_SINGLETONS_MANAGER = 'ferry-singletons';
const FERRY_OWN_MANAGERS = new Set([FERRY_ROLLBACK_MANAGER, FERRY_DECOMMISSION_MANAGER, FERRY_SINGLETONS_MANAGER]);

export function onlyFerryOwnManagers(conflicts: readonly FieldConflict[]): boolean {
  return conflicts.length > 0 && conflicts.every((conflict) => FERRY_OWN_MANAGERS.has(conflict.manager));
}

/** One field another field manager owns, which a non-forced server-side apply may not change. */
export interface FieldConflict {
  manager: string;
  /** The API version the other manager used, when the server says. */
  apiVersion?: string;
  /** The field path as the API server prints it, e.g. `.spec.ports[port=9555].targetPort`. */
  field: string;
}

/**
 * The conflicts in the message of a 409 answer to a server-side apply. The API server
 * (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager, structured-merge-diff
 * merge/conflict.go) writes either
 *   `Apply failed with 1 conflict: conflict with "team-a" using v1: .spec.replicas`
 * or, for several fields of one manager,
 *   `Apply failed with 2 conflicts: conflicts with "team-a" using apps/v1:\n- .spec.a\n- .spec.b`
 * and joins several managers' parts with newlines. The same facts are in
 * `status.details.causes`, but the message is what travels in our errors.
 */
export function parseConflicts(message: string): FieldConflict[] {
  const conflicts: FieldConflict[] = [];
  const header = /conflicts? with "([^"]+)"(?: using ([^\s:]+))?:/g;
  const headers = [...message.matchAll(header)];
  headers.forEach((match, i) => {
    const end = i + 1 < headers.length ? headers[i + 1]!.index : message.length;
    const rest = message.slice(match.index + match[0].length, end);
    for (const field of rest.match(/(?:^|\s|-\s)(\.\S+)/g) ?? []) {
      conflicts.push({ manager: match[1]!, ...(match[2] ? { apiVersion: match[2] } : {}), field: field.replace(/^[\s-]+/, '') });
    }
  });
  return conflicts;
}

/** The error a conflicting apply ends with: which manager owns which field, and the ways out. */
export function conflictError(object: string, conflicts: readonly FieldConflict[], fallbackMessage: string): FerryError {
  if (conflicts.length === 0) {
    return new FerryError('apply-conflict', fallbackMessage, { location: { object }, fix: forceFix([]) });
  }
  const byManager = new Map<string, string[]>();
  for (const conflict of conflicts) byManager.set(conflict.manager, [...(byManager.get(conflict.manager) ?? []), conflict.field]);
  const owned = [...byManager].map(([manager, fields]) => `${fields.join(', ')} owned by "${manager}"`).join('; ');
  return new FerryError('apply-conflict', `conflict with another field manager on the target: ${owned}`, {
    location: { object },
    fix: forceFix([...byManager.keys()]),
  });
}

function forceFix(managers: string[]): string {
  const who = managers.length > 0 ? managers.map((m) => `"${m}"`).join(', ') : 'the other manager';
  return `apply with --force-conflicts to make Ferry the owner of these fields (${who} will then conflict on its next apply), or stop ${who} from managing them on the target first`;
}
