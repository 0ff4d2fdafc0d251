/** One line of a preflight report. BLOCK stops the run; WARN is for a human to read; OK is evidence. */
export type Severity = 'BLOCK' | 'WARN' | 'OK';

export interface PreflightRow {
  severity: Severity;
  check: 'version' | 'api' | 'storage-class' | 'ingress-class' | 'namespace' | 'capacity' | 'reference' | 'exposure' | 'connectivity' | 'bridges' | 'gitops' | 'addresses' | 'egress' | 'external-dns' | 'sealed-secrets' | 'certificate' | 'workload-identity' | 'singletons';
  /** The object or kind the row is about, e.g. `PersistentVolumeClaim shop/data`. */
  subject: string;
  message: string;
  fix?: string;
}

export interface PreflightReport {
  source: string;
  target: string;
  rows: PreflightRow[];
  blocked: boolean;
  counts: Record<Severity, number>;
}

export function summarize(source: string, target: string, rows: PreflightRow[]): PreflightReport {
  const order: Record<Severity, number> = { BLOCK: 0, WARN: 1, OK: 2 };
  const sorted = [...rows].sort((a, b) => order[a.severity] - order[b.severity]);
  const counts = { BLOCK: 0, WARN: 0, OK: 0 };
  for (const row of rows) counts[row.severity]++;
  return { source, target, rows: sorted, blocked: counts.BLOCK > 0, counts };
}
