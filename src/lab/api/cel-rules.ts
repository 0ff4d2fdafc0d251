/**
 * Compiling CRD `x-kubernetes-validations` rules (rule, messageExpression) once per source
 * text, and the refusal of a CRD whose rules do not compile, worded as the apiextensions
 * API server words it (`...x-kubernetes-validations[0].rule: Invalid value: ...: compilation
 * failed: ERROR: <input>:1:6: ...`).
 */
import type { KubeObject } from '../../kube/object.js';
import type { StatusCause } from './status.js';
import { celEnvironment, UNSUPPORTED_KUBERNETES_FUNCTIONS } from './cel-library.js';

export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  reason?: string;
  fieldPath?: string;
  optionalOldSelf?: boolean;
}

type Program = (context: Record<string, unknown>) => unknown;

export interface CompiledRule {
  rule: ValidationRule;
  program?: Program;
  messageProgram?: Program;
  usesOldSelf: boolean;
  /** `compilation failed: ...` for rule or messageExpression; set when the CRD must be refused. */
  ruleError?: string;
  messageError?: string;
}

export const REASONS = ['FieldValueDuplicate', 'FieldValueForbidden', 'FieldValueInvalid', 'FieldValueRequired'];

const cache = new Map<string, CompiledRule>();
const byRule = new WeakMap<ValidationRule, CompiledRule>();

/** Compiles a rule (cached by its text: the same rules repeat across versions and CRDs). */
export function compileRule(rule: ValidationRule): CompiledRule {
  const known = byRule.get(rule);
  if (known) return known;
  const key = `${rule.rule}\u0000${rule.messageExpression ?? ''}`;
  let compiled = cache.get(key);
  if (!compiled) {
    const main = compileExpression(rule.rule, ['bool']);
    const message = rule.messageExpression ? compileExpression(rule.messageExpression, ['string']) : undefined;
    compiled = {
      rule, usesOldSelf: main.usesOldSelf,
      ...(main.program ? { program: main.program } : {}),
      ...(main.error ? { ruleError: main.error } : {}),
      ...(message?.program ? { messageProgram: message.program } : {}),
      ...(message?.error ? { messageError: message.error } : {}),
    };
    cache.set(key, compiled);
  }
  const own = compiled.rule === rule ? compiled : { ...compiled, rule };
  byRule.set(rule, own);
  return own;
}

function compileExpression(source: string, results: string[]): { program?: Program; error?: string; usesOldSelf: boolean } {
  const env = celEnvironment();
  let parsed;
  try {
    parsed = env.parse(source);
    const rewritten = rewriteForJavaScript(source, parsed.ast);
    if (rewritten !== source) parsed = env.parse(rewritten);
  } catch (error) {
    return { error: compileError(source, error), usesOldSelf: false };
  }
  const checked = parsed.check();
  if (!checked.valid) return { error: compileError(source, checked.error), usesOldSelf: false };
  const type = String(checked.type);
  if (type !== 'dyn' && !results.includes(type)) {
    return { error: `compilation failed: ERROR: <input>:1:1: cel expression must evaluate to a ${results[0]}, got ${type}`, usesOldSelf: false };
  }
  return { program: parsed as unknown as Program, usesOldSelf: mentionsOldSelf(parsed.ast) };
}

function compileError(source: string, error: unknown): string {
  const err = error as { message?: string; range?: { start: number } } | undefined;
  const first = (err?.message ?? String(error)).split('\n')[0]!.replace(/re2Matches/g, 'matches');
  const at = err?.range?.start ?? 0;
  const before = source.slice(0, at).split('\n');
  const where = `<input>:${before.length}:${before.at(-1)!.length + 1}`;
  const unsupported = UNSUPPORTED_KUBERNETES_FUNCTIONS.find((name) => new RegExp(`\\b${name}\\s*\\(`).test(source));
  const hint = unsupported ? ` (the ferry lab's CEL environment has no ${unsupported}(); see docs/lab.md)` : '';
  return `compilation failed: ERROR: ${where}: ${first}${hint}`;
}

interface AstNode {
  op: string;
  args: unknown;
  range: { start: number; end: number };
}

/**
 * cel-js 8 accepts has() only on a field chain rooted at a variable (`has(self.a.b)`), not on
 * any expression (`has(self.matches[0].path)`, which Gateway API's HTTPRoute uses; cel-js issue
 * #104). For a map, which every JSON value here is, `has(e.f)` is `"f" in e`, with the same error
 * when `e` itself is missing, so such calls are rewritten to that before compiling.
 */
/**
 * Also: `matches()` is RE2 in Kubernetes but a JavaScript RegExp in cel-js, which has no inline
 * flags (`(?i)` in Gateway API's GRPCRoute rules), so `s.matches(p)` becomes `s.re2Matches(p)`
 * (cel-library.ts), which translates what differs.
 */
export function rewriteForJavaScript(source: string, ast: unknown): string {
  return rewriteRange(source, ast, 0, source.length);
}

/** The text of source[from, to) with the rewrites above applied to the nodes inside it. */
function rewriteRange(source: string, root: unknown, from: number, to: number): string {
  const edits: { start: number; end: number; text: string }[] = [];
  const inner = (n: AstNode) => rewriteRange(source, n, n.range.start, n.range.end);
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object' || !('op' in node)) return;
    const { op, args, range } = node as AstNode;
    if (op === 'rcall' && Array.isArray(args) && args[0] === 'matches' && (args[2] as AstNode[]).length === 1) {
      const [, receiver, callArgs] = args as [string, AstNode, AstNode[]];
      edits.push({ start: range.start, end: range.end, text: `(${inner(receiver)}).re2Matches(${inner(callArgs[0]!)})` });
      return;
    }
    if (op === 'call' && Array.isArray(args) && args[0] === 'has') {
      const target = (args[1] as AstNode[] | undefined)?.[0];
      if (target?.op === '.' && !rootedAtVariable(target)) {
        const [receiver, field] = target.args as [AstNode, string];
        edits.push({ start: range.start, end: range.end, text: `(${JSON.stringify(field)} in ${inner(receiver)})` });
        return;
      }
    }
    visit(args);
  };
  visit(root);
  let out = source.slice(from, to);
  for (const edit of edits.sort((x, y) => y.start - x.start)) out = out.slice(0, edit.start - from) + edit.text + out.slice(edit.end - from);
  return out;
}

function rootedAtVariable(node: AstNode): boolean {
  let current = node;
  while (current.op === '.' || current.op === '.?') current = (current.args as [AstNode])[0];
  return current.op === 'id';
}

/** Whether the expression reads `oldSelf` (a transition rule, skipped when there is no old value). */
function mentionsOldSelf(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(mentionsOldSelf);
  if (!node || typeof node !== 'object') return false;
  const { op, args } = node as { op?: string; args?: unknown };
  if (op === 'id') return args === 'oldSelf';
  return mentionsOldSelf(args);
}

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  additionalProperties?: SchemaNode | boolean;
  'x-kubernetes-validations'?: ValidationRule[];
}

/** Why a CRD's rules would be refused by a real API server's compiler; [] when they compile. */
export function crdRuleProblems(crd: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const versions = ((crd.spec as { versions?: unknown[] } | undefined)?.versions ?? []) as { schema?: { openAPIV3Schema?: SchemaNode } }[];
  versions.forEach((version, index) => {
    const schema = version.schema?.openAPIV3Schema;
    if (schema) walkSchema(schema, `spec.versions[${index}].schema.openAPIV3Schema`, causes);
  });
  return causes;
}

function walkSchema(schema: SchemaNode, path: string, causes: StatusCause[]): void {
  if (!schema || typeof schema !== 'object') return;
  (schema['x-kubernetes-validations'] ?? []).forEach((rule, index) => {
    const at = `${path}.x-kubernetes-validations[${index}]`;
    if (typeof rule?.rule !== 'string' || rule.rule.trim() === '') {
      causes.push({ type: 'FieldValueRequired', field: `${at}.rule`, message: 'Required value' });
      return;
    }
    if (rule.rule.includes('\n') && !rule.message && !rule.messageExpression) {
      causes.push({ type: 'FieldValueRequired', field: `${at}.message`, message: 'Required value: message must be specified if rule contains line break' });
    }
    if (rule.message?.includes('\n')) causes.push({ type: 'FieldValueInvalid', field: `${at}.message`, message: `Invalid value: ${JSON.stringify(rule.message)}: message must not contain line breaks` });
    if (rule.reason !== undefined && !REASONS.includes(rule.reason)) {
      causes.push({ type: 'FieldValueNotSupported', field: `${at}.reason`, message: `Unsupported value: "${rule.reason}": supported values: ${REASONS.map((r) => `"${r}"`).join(', ')}` });
    }
    const compiled = compileRule(rule);
    if (compiled.ruleError) causes.push({ type: 'FieldValueInvalid', field: `${at}.rule`, message: `Invalid value: ${describeRule(rule)}: ${compiled.ruleError}` });
    if (compiled.messageError) causes.push({ type: 'FieldValueInvalid', field: `${at}.messageExpression`, message: `Invalid value: ${describeRule(rule)}: messageExpression ${compiled.messageError}` });
  });
  for (const [name, child] of Object.entries(schema.properties ?? {})) walkSchema(child, `${path}.properties[${name}]`, causes);
  if (schema.items) walkSchema(schema.items, `${path}.items`, causes);
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') walkSchema(schema.additionalProperties, `${path}.additionalProperties`, causes);
}

/** The Go value the real server prints for the offending rule. */
function describeRule(rule: ValidationRule): string {
  const quote = (text: string | undefined) => JSON.stringify(text ?? '');
  return `apiextensions.ValidationRule{Rule:${quote(rule.rule)}, Message:${quote(rule.message)}, MessageExpression:${quote(rule.messageExpression)}, Reason:${rule.reason ? `"${rule.reason}"` : '(*apiextensions.FieldValueErrorReason)(nil)'}, FieldPath:${quote(rule.fieldPath)}, OptionalOldSelf:${rule.optionalOldSelf === undefined ? '(*bool)(nil)' : String(rule.optionalOldSelf)}}`;
}
