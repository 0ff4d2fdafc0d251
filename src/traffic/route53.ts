import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Route53ProviderConfig } from './provider-config.js';
import { assertMirror, assertWeight, type MirrorSetting, type TrafficProvider, type TrafficStatus, type TrafficWeights } from './provider.js';

/**
 * Route 53 weighted records, generated and not sent: each step is a ChangeBatch for
 * `aws route53 change-resource-record-sets --hosted-zone-id Z --change-batch file://NNN-step.json`.
 * The first batch replaces the simple record with two weighted ones in one atomic change
 * (Route 53 refuses a simple and a weighted record of the same name and type side by side)
 * at the lowered TTL. Since nothing is sent, getWeights reports the last batch generated.
 */
export interface ChangeBatch {
  Comment: string;
  Changes: Array<{ Action: 'CREATE' | 'DELETE' | 'UPSERT'; ResourceRecordSet: Record<string, unknown> }>;
}

export class Route53Provider implements TrafficProvider {
  readonly type = 'route53' as const;
  readonly capabilities = { mirror: false, mirrorPercent: false, sticky: false };
  private readonly generated: Array<{ label: string; batch: ChangeBatch }> = [];
  private weights: TrafficWeights = { source: 100, target: 0 };

  constructor(private readonly config: Route53ProviderConfig) {}

  /** Every batch generated so far, in order. */
  batches(): Array<{ label: string; batch: ChangeBatch }> {
    return [...this.generated];
  }

  async reconcile(): Promise<{ settleMs: number }> {
    if (this.generated.length > 0) return { settleMs: 0 };
    const { record, recordType, originalTtl, source } = this.config;
    await this.emit('lower-ttl', {
      Comment: `ferry: replace ${record} ${recordType} with weighted records (TTL ${originalTtl} → ${this.config.rampTtl})`,
      Changes: [
        { Action: 'DELETE', ResourceRecordSet: { Name: fqdn(record), Type: recordType, TTL: originalTtl, ResourceRecords: source.values.map((Value) => ({ Value })) } },
        ...this.weightedChanges(0, 'CREATE'),
      ],
    });
    return { settleMs: originalTtl * 1000 };
  }

  async setWeight(targetPercent: number): Promise<void> {
    assertWeight(targetPercent);
    await this.emit(`weight-${targetPercent}`, { Comment: `ferry: ${this.config.record} target ${targetPercent}%`, Changes: this.weightedChanges(targetPercent, 'UPSERT') });
  }

  async getWeights(): Promise<TrafficWeights> {
    return { ...this.weights };
  }

  async setMirror(mirror: MirrorSetting): Promise<void> {
    assertMirror(this, mirror);
  }

  async status(): Promise<TrafficStatus> {
    return { type: this.type, weights: await this.getWeights(), mirror: { enabled: false, percent: 0 }, detail: { hostedZoneId: this.config.hostedZoneId, batches: this.generated.length, sent: false } };
  }

  async finalize(): Promise<void> {
    await this.setWeight(0);
  }

  private weightedChanges(targetPercent: number, action: 'CREATE' | 'UPSERT'): ChangeBatch['Changes'] {
    const { record, recordType, rampTtl, source, target } = this.config;
    const set = (side: typeof source, weight: number) => ({
      Action: action,
      ResourceRecordSet: { Name: fqdn(record), Type: recordType, SetIdentifier: side.setIdentifier, Weight: weight, TTL: rampTtl, ResourceRecords: side.values.map((Value) => ({ Value })) },
    });
    // Route 53 weights are relative (0–255); a percentage fits.
    return [set(source, 100 - targetPercent), set(target, targetPercent)];
  }

  private async emit(label: string, batch: ChangeBatch): Promise<void> {
    this.generated.push({ label, batch });
    const last = batch.Changes.filter((change) => change.ResourceRecordSet.SetIdentifier !== undefined);
    const weightOf = (id: string) => Number(last.find((change) => change.ResourceRecordSet.SetIdentifier === id)?.ResourceRecordSet.Weight ?? 0);
    this.weights = { source: weightOf(this.config.source.setIdentifier), target: weightOf(this.config.target.setIdentifier) };
    if (this.config.outDir) {
      await mkdir(this.config.outDir, { recursive: true });
      const file = join(this.config.outDir, `${String(this.generated.length).padStart(3, '0')}-${label}.json`);
      await writeFile(file, `${JSON.stringify({ HostedZoneId: this.config.hostedZoneId, ChangeBatch: batch }, null, 2)}\n`);
    }
  }
}

function fqdn(name: string): string {
  return name.endsWith('.') ? name : `${name}.`;
}
