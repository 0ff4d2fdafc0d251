import { KubeClient } from '../../kube/client.js';
import { loadKubeConfig } from '../../kube/config.js';
import type { MigrationPlan } from '../../plan/schema.js';
import { FerryError } from '../../util/errors.js';
import { desiredObjects, readPlanSource } from '../desired.js';
import { checkApis, checkCapacity, checkExposure, checkIngressClasses, checkNamespaces, checkReferences, checkStorageClasses, checkVersions } from './checks.js';
import { gatherClusterFacts } from './facts.js';
import { checkBridges } from './bridges.js';
import { checkSingletons } from './singletons.js';
import { checkTrust } from '../../trust/index.js';
import { checkHandover } from './handover.js';
import { summarize, type PreflightReport, type PreflightRow } from './model.js';

export type { PreflightReport, PreflightRow } from './model.js';

export interface PreflightOptions {
  kubeconfig?: string;
  /** Override the plan's target context. */
  targetContext?: string;
}

/**
 * Compares the plan's source with its target and reports BLOCK / WARN / OK rows: versions,
 * served APIs (CRDs and removed versions), storage and ingress classes, namespaces,
 * capacity, references the plan does not carry, and addresses that will change.
 */
export async function runPreflight(plan: MigrationPlan, options: PreflightOptions = {}): Promise<PreflightReport> {
  const targetContext = options.targetContext ?? plan.spec.target.context;
  if (!targetContext) {
    throw new FerryError('plan', 'the plan names no target context', { location: { field: 'spec.target.context' }, fix: 'set spec.target.context or pass --target-context' });
  }
  const kubeconfig = plan.spec.target.kubeconfig ?? options.kubeconfig;
  const target = new KubeClient(loadKubeConfig({ context: targetContext, ...(kubeconfig ? { kubeconfig } : {}) }));
  const sourceName = plan.spec.source.manifests ?? plan.spec.source.context ?? 'source';
  let facts;
  try {
    facts = await gatherClusterFacts(target);
  } catch (error) {
    const row: PreflightRow = { severity: 'BLOCK', check: 'connectivity', subject: targetContext, message: error instanceof FerryError ? error.message : String(error), fix: error instanceof FerryError ? error.fix ?? 'check the target cluster' : 'check the target cluster' };
    return summarize(sourceName, targetContext, [row]);
  }
  const inventory = await readPlanSource(plan, options.kubeconfig ? { kubeconfig: options.kubeconfig } : {});
  const sourceVersion = inventory.source.kind === 'cluster' && inventory.source.version ? parseVersion(inventory.source.version) : undefined;
  const planned = desiredObjects(plan, inventory, { prerequisites: true });
  const rows = [
    ...checkVersions(sourceVersion, facts.version),
    ...checkApis(planned, facts),
    ...checkStorageClasses(planned, facts),
    ...checkIngressClasses(planned, facts),
    ...checkNamespaces(planned, facts),
    ...checkCapacity(planned, facts),
    ...checkReferences(planned, facts),
    ...checkExposure(planned),
    ...checkSingletons(plan, [...inventory.objects, ...inventory.clusterObjects]),
  ];
  const source = plan.spec.source.context ? new KubeClient(loadKubeConfig({ context: plan.spec.source.context, ...(plan.spec.source.kubeconfig ?? options.kubeconfig ? { kubeconfig: (plan.spec.source.kubeconfig ?? options.kubeconfig)! } : {}) })) : undefined;
  try {
    rows.push(...await checkBridges(plan, { source, target }));
    rows.push(...await checkTrust(plan, planned, inventory.objects, { source, target, kubeconfig: options.kubeconfig, targetContext }));
    rows.push(...await checkHandover(plan, planned, source));
  } finally {
    source?.close();
  }
  return summarize(sourceName, targetContext, rows);
}

function parseVersion(gitVersion: string): { major: number; minor: number; gitVersion: string } {
  const match = /^v?(\d+)\.(\d+)/.exec(gitVersion);
  return { major: Number(match?.[1] ?? 0), minor: Number(match?.[2] ?? 0), gitVersion };
}
