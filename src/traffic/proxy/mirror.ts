import { compareResponses, type CapturedResponse, type Difference, type MismatchReason } from './compare.js';
import type { CompareConfig } from './config.js';

/**
 * Bookkeeping of the shadow comparison for one route: how many requests were mirrored and
 * compared, how many differed (and why), and a bounded reservoir sample of differing pairs
 * so that the sample stays representative of the whole run, not of its first minutes.
 */
export interface MirrorPair {
  at: number;
  method: string;
  path: string;
  differences: Difference[];
  primary: PairSide;
  shadow: PairSide;
}

interface PairSide {
  status: number;
  headers: Record<string, string | undefined>;
  body: string;
}

export interface MirrorStats {
  route: string;
  enabled: boolean;
  percent: number;
  mirrored: number;
  compared: number;
  mismatched: number;
  /** mismatched / compared, with the 95% normal-approximation half-width. */
  mismatchRate: number;
  mismatchRateError95: number;
  byReason: Record<MismatchReason, number>;
  /** Shadow requests that got no response (the primary was unaffected). */
  shadowErrors: number;
  /** Non-idempotent requests not mirrored because the route does not allow them. */
  skippedNonIdempotent: number;
  samples: MirrorPair[];
}

/** The share of compared pairs that differed, with its 95% normal-approximation half-width; 0 and 0 before any comparison. */
export function mismatchRate(mismatched: number, compared: number): Pick<MirrorStats, 'mismatchRate' | 'mismatchRateError95'> {
  if (compared === 0) return { mismatchRate: 0, mismatchRateError95: 0 };
  const rate = mismatched / compared;
  return { mismatchRate: rate, mismatchRateError95: 1.96 * Math.sqrt((rate * (1 - rate)) / compared) };
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

export function isIdempotent(method: string): boolean {
  return IDEMPOTENT.has(method);
}

const SAMPLE_BODY_BYTES = 2048;

export class MirrorLedger {
  private mirrored = 0;
  private compared = 0;
  private mismatched = 0;
  private shadowErrors = 0;
  private skippedNonIdempotent = 0;
  private readonly byReason: Record<MismatchReason, number> = { status: 0, header: 0, body: 0 };
  private readonly samples: MirrorPair[] = [];
  private seenMismatches = 0;

  constructor(
    readonly route: string,
    private readonly random: () => number,
  ) {}

  /** The sampling decision for one request, given the route's current mirror setting. */
  shouldMirror(method: string, percent: number, allowNonIdempotent: boolean): boolean {
    if (percent <= 0) return false;
    if (percent < 100 && this.random() * 100 >= percent) return false;
    if (!allowNonIdempotent && !isIdempotent(method)) {
      this.skippedNonIdempotent++;
      return false;
    }
    this.mirrored++;
    return true;
  }

  recordShadowError(): void {
    this.shadowErrors++;
  }

  /** Compares one pair; returns the first mismatch reason or undefined when equal. */
  record(at: number, method: string, path: string, primary: CapturedResponse, shadow: CapturedResponse, compare: CompareConfig): MismatchReason | undefined {
    this.compared++;
    const differences = compareResponses(primary, shadow, { headers: compare.headers, ignorePaths: compare.ignorePaths, maxDifferences: 10 });
    if (differences.length === 0) return undefined;
    this.mismatched++;
    const reason = differences[0]!.reason;
    this.byReason[reason]++;
    this.keepSample({ at, method, path, differences, primary: side(primary, compare), shadow: side(shadow, compare) }, compare.sampleSize);
    return reason;
  }

  stats(enabled: boolean, percent: number): MirrorStats {
    return {
      route: this.route,
      enabled,
      percent,
      mirrored: this.mirrored,
      compared: this.compared,
      mismatched: this.mismatched,
      ...mismatchRate(this.mismatched, this.compared),
      byReason: { ...this.byReason },
      shadowErrors: this.shadowErrors,
      skippedNonIdempotent: this.skippedNonIdempotent,
      samples: [...this.samples],
    };
  }

  /** Algorithm R: every differing pair has the same chance to be in the sample. */
  private keepSample(pair: MirrorPair, size: number): void {
    this.seenMismatches++;
    if (size === 0) return;
    if (this.samples.length < size) {
      this.samples.push(pair);
      return;
    }
    const slot = Math.floor(this.random() * this.seenMismatches);
    if (slot < size) this.samples[slot] = pair;
  }
}

function side(response: CapturedResponse, compare: CompareConfig): PairSide {
  const headers: Record<string, string | undefined> = {};
  for (const name of compare.headers) headers[name.toLowerCase()] = response.headers[name.toLowerCase()];
  const text = response.body.subarray(0, SAMPLE_BODY_BYTES).toString('utf8');
  return { status: response.status, headers, body: response.length > SAMPLE_BODY_BYTES ? `${text}… (${response.length} bytes)` : text };
}
