/**
 * FerryError is the one error type users see: what failed, where (file:line:column,
 * object or field) and how to fix it. The CLI prints `message` and never the stack;
 * `cause` is kept for `--debug`.
 */
export interface ErrorLocation {
  file?: string;
  line?: number;
  column?: number;
  /** Dotted path of the field, e.g. `spec.waves[0].slices[1].traffic.steps`. */
  field?: string;
  /** Kubernetes object, e.g. `Deployment default/frontend`. */
  object?: string;
}

export class FerryError extends Error {
  readonly location: ErrorLocation;
  readonly fix: string | undefined;
  readonly code: string;
  /** Figures behind the message (a count, a limit) that a journaled failure keeps as data, so readers never parse the text. */
  readonly facts: Record<string, number | string | boolean> | undefined;

  constructor(
    code: string,
    message: string,
    options: { location?: ErrorLocation; fix?: string; cause?: unknown; facts?: Record<string, number | string | boolean> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FerryError';
    this.code = code;
    this.location = options.location ?? {};
    this.fix = options.fix;
    this.facts = options.facts;
  }

  /** One line: `file:line:col: field: message (fix: ...)`. */
  oneLine(): string {
    const { file, line, column, field, object } = this.location;
    const where = [
      file ? [file, line, column].filter((part) => part !== undefined).join(':') : undefined,
      object,
      field,
    ].filter(Boolean);
    const head = where.length > 0 ? `${where.join(': ')}: ` : '';
    const fix = this.fix ? ` (fix: ${this.fix})` : '';
    return `${head}${this.message}${fix}`.replace(/\s*\n\s*/g, ' ');
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.location, fix: this.fix };
  }
}

export function isFerryError(error: unknown): error is FerryError {
  return error instanceof FerryError;
}

/** Turns any thrown value into a FerryError without losing the original as cause. */
export function toFerryError(error: unknown, code = 'internal'): FerryError {
  if (error instanceof FerryError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new FerryError(code, message, { cause: error });
}
