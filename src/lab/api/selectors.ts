/**
 * Label and field selectors, parsed from the query-string syntax and from LabelSelector
 * objects, and matched against objects. Pure.
 * https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors
 */
import { badRequest } from './status.js';

export type Requirement =
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | 'doesnotexist' }
  | { key: string; op: 'gt' | 'lt'; values: [string] };

export type LabelSelector = Requirement[];

export interface LabelSelectorObject {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

/** Parses `a=b,c!=d,e in (x,y),!f,g` (the syntax of `?labelSelector=`). */
export function parseLabelSelector(text: string): LabelSelector {
  const requirements: Requirement[] = [];
  for (const part of splitTopLevel(text)) {
    const term = part.trim();
    if (term === '') continue;
    let match: RegExpExecArray | null;
    if ((match = /^([^\s!=<>]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term))) {
      const values = match[3]!.split(',').map((value) => value.trim()).filter((value) => value !== '');
      requirements.push({ key: match[1]!, op: match[2] as 'in' | 'notin', values });
    } else if ((match = /^([^\s!=<>]+)\s*(==|=|!=)\s*([^\s,]*)$/.exec(term))) {
      requirements.push({ key: match[1]!, op: match[2] === '!=' ? 'notin' : 'in', values: [match[3]!] });
    } else if ((match = /^([^\s!=<>]+)\s*([<>])\s*(-?\d+)$/.exec(term))) {
      requirements.push({ key: match[1]!, op: match[2] === '>' ? 'gt' : 'lt', values: [match[3]!] });
    } else if ((match = /^!\s*([^\s!=<>]+)$/.exec(term))) {
      requirements.push({ key: match[1]!, op: 'doesnotexist' });
    } else if ((match = /^([^\s!=<>()]+)$/.exec(term))) {
      requirements.push({ key: match[1]!, op: 'exists' });
    } else {
      throw badRequest(`unable to parse requirement: found '${term}', expected: key, key=value, key in (values)`);
    }
  }
  return requirements;
}

/** A LabelSelector object (matchLabels/matchExpressions) as requirements; null/undefined matches everything. */
export function labelSelectorFromObject(selector: LabelSelectorObject | undefined | null): LabelSelector {
  if (!selector) return [];
  const requirements: Requirement[] = Object.entries(selector.matchLabels ?? {}).map(([key, value]) => ({ key, op: 'in' as const, values: [value] }));
  for (const expression of selector.matchExpressions ?? []) {
    const op = expression.operator.toLowerCase();
    if (op === 'in' || op === 'notin') requirements.push({ key: expression.key, op, values: expression.values ?? [] });
    else if (op === 'exists' || op === 'doesnotexist') requirements.push({ key: expression.key, op });
    else throw badRequest(`"${expression.operator}" is not a valid label selector operator`);
  }
  return requirements;
}

export function matchesLabels(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  for (const requirement of selector) {
    const value = labels?.[requirement.key];
    switch (requirement.op) {
      case 'in':
        if (value === undefined || !requirement.values.includes(value)) return false;
        break;
      case 'notin':
        if (value !== undefined && requirement.values.includes(value)) return false;
        break;
      case 'exists':
        if (value === undefined) return false;
        break;
      case 'doesnotexist':
        if (value !== undefined) return false;
        break;
      case 'gt':
      case 'lt': {
        if (value === undefined || !/^-?\d+$/.test(value)) return false;
        const diff = Number(value) - Number(requirement.values[0]);
        if (requirement.op === 'gt' ? diff <= 0 : diff >= 0) return false;
        break;
      }
    }
  }
  return true;
}

/** `matchLabels` map (Service/ReplicaSet style selector) as a selector; an empty map matches nothing for Services, so callers decide. */
export function selectorFromMap(map: Record<string, string>): LabelSelector {
  return Object.entries(map).map(([key, value]) => ({ key, op: 'in' as const, values: [value] }));
}

export interface FieldRequirement {
  path: string;
  negate: boolean;
  value: string;
}

export type FieldSelector = FieldRequirement[];

/** Parses `metadata.name=x,status.phase!=Running`. */
export function parseFieldSelector(text: string): FieldSelector {
  const requirements: FieldRequirement[] = [];
  for (const part of text.split(',')) {
    const term = part.trim();
    if (term === '') continue;
    const match = /^([A-Za-z0-9_.\-/]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!match) throw badRequest(`invalid field selector: '${term}'`);
    requirements.push({ path: match[1]!, negate: match[2] === '!=', value: match[3]!.trim() });
  }
  return requirements;
}

/** Field selectors read dotted paths from the object; a missing field compares as the empty string. */
export function matchesFields(selector: FieldSelector, object: Record<string, unknown>): boolean {
  for (const requirement of selector) {
    const actual = readPath(object, requirement.path);
    const text = actual === undefined || actual === null ? '' : String(actual);
    if ((text === requirement.value) === requirement.negate) return false;
  }
  return true;
}

function readPath(object: unknown, path: string): unknown {
  let current = object;
  for (const segment of path.split('.')) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '(') depth++;
    else if (char === ')') depth--;
    else if (char === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}
