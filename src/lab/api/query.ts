/**
 * Query parameters read as the real API server reads them. Every handler of the lab reads its
 * query through this module, so a client in any language gets the answer kubectl gets.
 *
 * Followed (kubernetes/apimachinery):
 *  - pkg/apis/meta/v1/conversion.go: the parameter codec converts `url.Values` into the
 *    options struct of the verb (ListOptions, GetOptions, CreateOptions, UpdateOptions,
 *    PatchOptions, DeleteOptions) with these rules:
 *    - bool and *bool (`Convert_Slice_string_To_bool`): only `0` and `false` in any case
 *      (`False`, `FALSE`) are false; ANY other value is true — `true`, `True`, `1`, `t`, `yes`
 *      and even an empty value (`?watch`). So booleans never fail to convert.
 *    - int64 and *int64 (`Convert_Slice_string_To_int64`): Go's `strconv.ParseInt(s, 10, 64)`:
 *      an optional sign and decimal digits, nothing else (no spaces, no `1e3`, no `0x`),
 *      within int64; otherwise 400 BadRequest with strconv's text.
 *    - scalars take the FIRST of repeated values; []string (dryRun) takes every repeated value.
 *      No list parameter of these options is comma-split (only port-forward's []int32 ports are).
 *  - pkg/apis/meta/v1/validation/validation.go (ValidateDryRun, ValidateFieldValidation,
 *    ValidateFieldManager, ValidatePatchOptions, ValidateDeleteOptions) and
 *    pkg/apis/meta/internalversion/validation (ValidateListOptions): converted values outside
 *    their enums are 422 Invalid on `CreateOptions.meta.k8s.io ""` (etc.), as the server says.
 *  - `pretty` is read apart from the codec (apiserver's negotiation.isPrettyPrint) with Go's
 *    `strconv.ParseBool`: 1 t T TRUE true True 0 f F FALSE false False; anything else is false.
 * A conversion error names the parameter before strconv's words (the real server gives only
 * strconv's words), so a user sees which parameter was wrong.
 */
import { ApiError, invalid, type StatusCause } from './status.js';
import type { FieldValidation } from './validation.js';

/** apimachinery's rule: absent → undefined; `0` or `false` (any case) → false; anything else → true. */
export function queryBool(query: URLSearchParams, name: string): boolean | undefined {
  const value = query.get(name);
  if (value === null) return undefined;
  return !(value === '0' || value.toLowerCase() === 'false');
}

/** Go's strconv.ParseBool, for `pretty` (invalid → undefined). */
export function parseGoBool(value: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  return undefined;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Go's strconv.ParseInt(value, 10, 64); throws 400 naming the parameter. Absent → undefined. */
export function queryInt(query: URLSearchParams, name: string): number | undefined {
  const value = query.get(name);
  if (value === null) return undefined;
  if (!/^[+-]?[0-9]+$/.test(value)) throw conversionError(name, `strconv.ParseInt: parsing ${goQuote(value)}: invalid syntax`);
  const big = BigInt(value);
  if (big < INT64_MIN || big > INT64_MAX) throw conversionError(name, `strconv.ParseInt: parsing ${goQuote(value)}: value out of range`);
  return Number(big);
}

/** Every value of a repeated parameter (`?dryRun=All&dryRun=All`), in order. */
export function queryList(query: URLSearchParams, name: string): string[] {
  return query.getAll(name);
}

/** The first value, as the codec's string conversion takes it; absent → undefined. */
export function queryString(query: URLSearchParams, name: string): string | undefined {
  return query.get(name) ?? undefined;
}

/** GET with `watch` converted as a boolean: `watch=true`, `True`, `1`, `yes`, or a bare `?watch`. */
export function isWatch(query: URLSearchParams): boolean {
  return queryBool(query, 'watch') === true;
}

/** `pretty=<ParseBool>`: indent the JSON answer. */
export function wantsPretty(query: URLSearchParams): boolean {
  const value = query.get('pretty');
  return value !== null && value !== '' && parseGoBool(value) === true;
}

export interface ListQuery {
  watch: boolean;
  labelSelector: string | undefined;
  fieldSelector: string | undefined;
  resourceVersion: string | undefined;
  resourceVersionMatch: string | undefined;
  timeoutSeconds: number | undefined;
  /** 0 = no limit (negative limits are no limit too, as on the server). */
  limit: number;
  continue: string | undefined;
  allowWatchBookmarks: boolean;
  sendInitialEvents: boolean | undefined;
  /** Table rendering: `includeObject=None|Metadata|Object`. */
  includeObject: 'None' | 'Metadata' | 'Object';
}

/** ListOptions for list and watch, converted and validated (ValidateListOptions). */
export function listQuery(query: URLSearchParams): ListQuery {
  const options: ListQuery = {
    watch: isWatch(query),
    labelSelector: queryString(query, 'labelSelector'),
    fieldSelector: queryString(query, 'fieldSelector'),
    resourceVersion: queryString(query, 'resourceVersion'),
    resourceVersionMatch: queryString(query, 'resourceVersionMatch'),
    timeoutSeconds: queryInt(query, 'timeoutSeconds'),
    limit: Math.max(0, queryInt(query, 'limit') ?? 0),
    continue: queryString(query, 'continue'),
    allowWatchBookmarks: queryBool(query, 'allowWatchBookmarks') === true,
    sendInitialEvents: queryBool(query, 'sendInitialEvents'),
    includeObject: queryIncludeObject(query),
  };
  const causes = options.watch ? watchProblems(options) : listProblems(options);
  if (causes.length > 0) throw invalid('ListOptions', 'meta.k8s.io', '', causes);
  return options;
}

function listProblems(options: ListQuery): StatusCause[] {
  const causes: StatusCause[] = [];
  const match = options.resourceVersionMatch;
  if (match) {
    if (!options.resourceVersion) causes.push(forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden unless resourceVersion is provided'));
    if (options.continue) causes.push(forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden when continue is provided'));
    if (match !== 'Exact' && match !== 'NotOlderThan') causes.push(notSupported('resourceVersionMatch', match, ['Exact', 'NotOlderThan', '']));
    if (match === 'Exact' && options.resourceVersion === '0') causes.push(forbidden('resourceVersionMatch', 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'));
  }
  if (options.sendInitialEvents !== undefined) causes.push(forbidden('sendInitialEvents', 'sendInitialEvents is forbidden for list'));
  return causes;
}

function watchProblems(options: ListQuery): StatusCause[] {
  const causes: StatusCause[] = [];
  const match = options.resourceVersionMatch;
  if (options.sendInitialEvents !== undefined && match !== 'NotOlderThan') {
    causes.push(forbidden('resourceVersionMatch', 'sendInitialEvents requires setting resourceVersionMatch to NotOlderThan'));
  }
  if (match) {
    if (options.sendInitialEvents === undefined) causes.push(forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided'));
    if (match !== 'NotOlderThan') causes.push(notSupported('resourceVersionMatch', match, ['NotOlderThan']));
    if (options.continue) causes.push(forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden when continue is provided'));
  }
  return causes;
}

/** Table rendering's `includeObject` (anything else is the default, Metadata). */
export function queryIncludeObject(query: URLSearchParams): ListQuery['includeObject'] {
  const value = query.get('includeObject');
  return value === 'None' || value === 'Object' ? value : 'Metadata';
}

export type WriteVerb = 'create' | 'update' | 'patch';

export interface WriteQuery {
  dryRun: boolean;
  fieldManager: string | undefined;
  fieldValidation: FieldValidation | undefined;
  force: boolean;
}

const FIELD_VALIDATIONS = ['', 'Ignore', 'Strict', 'Warn'];

/**
 * CreateOptions / UpdateOptions / PatchOptions, converted and validated. `apply` says the
 * patch is server-side apply: only there may `force` be given, and a fieldManager is required.
 */
export function writeQuery(query: URLSearchParams, verb: WriteVerb, apply = false): WriteQuery {
  const dryRun = queryList(query, 'dryRun');
  const fieldManager = queryString(query, 'fieldManager');
  const fieldValidation = queryString(query, 'fieldValidation');
  const force = verb === 'patch' ? queryBool(query, 'force') : undefined;
  const causes = [...dryRunProblems(dryRun), ...fieldManagerProblems(fieldManager)];
  if (fieldValidation !== undefined && !FIELD_VALIDATIONS.includes(fieldValidation)) causes.push(notSupported('fieldValidation', fieldValidation, FIELD_VALIDATIONS));
  if (verb === 'patch' && !apply && force !== undefined) causes.push(forbidden('force', 'may not be specified for non-apply patch'));
  if (verb === 'patch' && apply && !fieldManager) causes.push({ type: 'FieldValueRequired', field: 'fieldManager', message: 'Required value: is required for apply patch' });
  if (causes.length > 0) throw invalid(`${verb === 'create' ? 'Create' : verb === 'update' ? 'Update' : 'Patch'}Options`, 'meta.k8s.io', '', causes);
  return {
    dryRun: dryRun.length > 0,
    fieldManager: fieldManager || undefined,
    fieldValidation: (fieldValidation || undefined) as FieldValidation | undefined,
    force: force === true,
  };
}

export type PropagationPolicy = 'Foreground' | 'Background' | 'Orphan';

export interface DeleteQuery {
  dryRun: boolean;
  gracePeriodSeconds: number | undefined;
  /** Undefined when the request named none (the resource's default applies). */
  propagationPolicy: PropagationPolicy | undefined;
  preconditions: { uid?: string; resourceVersion?: string };
}

interface DeleteOptionsBody {
  dryRun?: unknown;
  gracePeriodSeconds?: unknown;
  orphanDependents?: unknown;
  propagationPolicy?: unknown;
  preconditions?: { uid?: string; resourceVersion?: string };
}

/**
 * DeleteOptions. As in apiserver's delete handler, a request with a body takes its options from
 * the body and ignores the query; without a body they come from the query.
 */
export function deleteQuery(query: URLSearchParams, body: DeleteOptionsBody | undefined): DeleteQuery {
  const fromQuery = body === undefined;
  const dryRun = fromQuery ? queryList(query, 'dryRun') : Array.isArray(body.dryRun) ? body.dryRun.map(String) : [];
  const gracePeriodSeconds = fromQuery ? queryInt(query, 'gracePeriodSeconds') : typeof body.gracePeriodSeconds === 'number' ? body.gracePeriodSeconds : undefined;
  const orphanDependents = fromQuery ? queryBool(query, 'orphanDependents') : typeof body.orphanDependents === 'boolean' ? body.orphanDependents : undefined;
  const policy = fromQuery ? queryString(query, 'propagationPolicy') : typeof body.propagationPolicy === 'string' ? body.propagationPolicy : undefined;
  const causes = dryRunProblems(dryRun);
  if (orphanDependents !== undefined && policy !== undefined) causes.push({ type: 'FieldValueInvalid', field: 'propagationPolicy', message: `Invalid value: ${goQuote(policy)}: orphanDependents and deletionPropagation cannot be both set` });
  if (policy !== undefined && !['Foreground', 'Background', 'Orphan'].includes(policy)) causes.push(notSupported('propagationPolicy', policy, ['Foreground', 'Background', 'Orphan', 'nil']));
  if (causes.length > 0) throw invalid('DeleteOptions', 'meta.k8s.io', '', causes);
  // orphanDependents is the deprecated spelling of Orphan (true) and Background (false).
  const propagationPolicy = (policy ?? (orphanDependents === undefined ? undefined : orphanDependents ? 'Orphan' : 'Background')) as PropagationPolicy | undefined;
  return { dryRun: dryRun.length > 0, gracePeriodSeconds, propagationPolicy, preconditions: body?.preconditions ?? {} };
}

function dryRunProblems(values: string[]): StatusCause[] {
  if (values.every((value) => value === 'All')) return [];
  return [{ type: 'FieldValueNotSupported', field: 'dryRun', message: `Unsupported value: []string{${values.map(goQuote).join(', ')}}: supported values: "All"` }];
}

function fieldManagerProblems(manager: string | undefined): StatusCause[] {
  if (manager === undefined) return [];
  if (Buffer.byteLength(manager) > 128) return [{ type: 'FieldValueTooLong', field: 'fieldManager', message: 'Too long: may not be more than 128 bytes' }];
  // eslint-disable-next-line no-control-regex -- unicode.IsPrint as ValidateFieldManager uses it
  if (/[\u0000-\u001f\u007f]/.test(manager)) return [{ type: 'FieldValueInvalid', field: 'fieldManager', message: `Invalid value: ${goQuote(manager)}: must only contain printable characters` }];
  return [];
}

function forbidden(field: string, detail: string): StatusCause {
  return { type: 'FieldValueForbidden', field, message: `Forbidden: ${detail}` };
}

function notSupported(field: string, value: string, supported: string[]): StatusCause {
  return { type: 'FieldValueNotSupported', field, message: `Unsupported value: ${goQuote(value)}: supported values: ${supported.map(goQuote).join(', ')}` };
}

function conversionError(name: string, detail: string): ApiError {
  return new ApiError(400, 'BadRequest', `invalid query parameter ${name}: ${detail}`, { causes: [{ type: 'FieldValueInvalid', field: name, message: detail }] });
}

/** Go's %q for the printable strings query values are. */
function goQuote(value: string): string {
  return JSON.stringify(value);
}
