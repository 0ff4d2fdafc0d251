import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/kube/object.js';
import { findGitOpsManagers } from '../../../src/handover/gitops.js';
import { externalDnsHostnames, registryNames, registryOwner } from '../../../src/handover/external-dns.js';
import { addressRows, keepAddresses } from '../../../src/handover/addresses.js';
import { stripServerFields } from '../../../src/apply/transforms/strip-server-fields.js';

const object = (kind: string, name: string, metadata: Partial<KubeObject['metadata']> = {}, spec: Record<string, unknown> = {}): KubeObject =>
  ({ apiVersion: kind === 'Ingress' ? 'networking.k8s.io/v1' : kind === 'HTTPRoute' ? 'gateway.networking.k8s.io/v1' : 'v1', kind, metadata: { name, namespace: 'shop', ...metadata }, spec }) as KubeObject;

test('GitOps managers come from Flux labels, Argo CD tracking ids, and the instance label only when that Application exists', () => {
  const managers = findGitOpsManagers([
    object('Service', 'a', { labels: { 'kustomize.toolkit.fluxcd.io/name': 'apps', 'kustomize.toolkit.fluxcd.io/namespace': 'flux-system' } }),
    object('Service', 'b', { labels: { 'helm.toolkit.fluxcd.io/name': 'shop', 'helm.toolkit.fluxcd.io/namespace': 'shop' } }),
    object('Service', 'c', { annotations: { 'argocd.argoproj.io/tracking-id': 'team-apps_shop:/Service:shop/c' } }),
    object('Service', 'd', { labels: { 'app.kubernetes.io/instance': 'legacy' } }),
    // Helm's own use of the label: no Application named so.
    object('Service', 'e', { labels: { 'app.kubernetes.io/instance': 'my-release' } }),
  ], [{ namespace: 'team-apps', name: 'shop' }, { namespace: 'argocd', name: 'legacy' }]);
  assert.deepEqual(managers.map((m) => [m.kind, `${m.namespace}/${m.name}`, m.manages]), [
    ['Kustomization', 'flux-system/apps', ['Service shop/a']],
    ['HelmRelease', 'shop/shop', ['Service shop/b']],
    ['Application', 'team-apps/shop', ['Service shop/c']],
    ['Application', 'argocd/legacy', ['Service shop/d']],
  ]);
});

test('external-dns: hostnames from Ingress, HTTPRoute and the annotation; registry names old and new; owners only from registry records', () => {
  assert.deepEqual(externalDnsHostnames([
    object('Ingress', 'web', {}, { rules: [{ host: 'Shop.Example.com' }], tls: [{ hosts: ['shop.example.com', 'www.example.com'] }] }),
    object('HTTPRoute', 'api', {}, { hostnames: ['api.example.com'] }),
    object('Service', 'lb', { annotations: { 'external-dns.alpha.kubernetes.io/hostname': 'lb.example.com., lb2.example.com' } }),
  ]), ['api.example.com', 'lb.example.com', 'lb2.example.com', 'shop.example.com', 'www.example.com']);
  assert.deepEqual(registryNames('shop.example.com', 'edns-'), ['edns-shop.example.com', 'edns-a-shop.example.com', 'edns-aaaa-shop.example.com', 'edns-cname-shop.example.com']);
  assert.equal(registryOwner('heritage=external-dns,external-dns/owner=prod-eu,external-dns/resource=service/shop/lb'), 'prod-eu');
  assert.equal(registryOwner('v=spf1 include:_spf.example.com ~all'), undefined);
  assert.equal(registryOwner('external-dns/owner=forged'), undefined, 'no heritage, not a registry record');
});

test('keepAddresses keeps node ports through strip-server-fields; the preflight rows say what changes', () => {
  const service = object('Service', 'edge', { annotations: { 'networking.gke.io/load-balancer-ip-addresses': 'edge-ip' } }, { type: 'LoadBalancer', loadBalancerIP: '203.0.113.7', ports: [{ port: 443, nodePort: 30443 }] });
  const stripped = stripServerFields(service);
  const kept = stripServerFields(keepAddresses(service));
  assert.equal((stripped.spec as any).ports[0].nodePort, undefined);
  assert.equal((kept.spec as any).ports[0].nodePort, 30443);
  assert.equal((kept.spec as any).loadBalancerIP, '203.0.113.7');
  const changing = addressRows([service], [stripped]);
  assert.ok(changing.some((row) => row.severity === 'WARN' && /node port\(s\) 30443 of the source will change/.test(row.message)));
  assert.ok(changing.some((row) => /same static address \(loadBalancerIP=203\.0\.113\.7, networking\.gke\.io\/load-balancer-ip-addresses=edge-ip\)/.test(row.message)));
  const dropped = addressRows([service], [{ ...kept, spec: { ...(kept.spec as object), loadBalancerIP: undefined } } as KubeObject]);
  assert.ok(dropped.some((row) => /static address loadBalancerIP=203\.0\.113\.7 of the source is not carried/.test(row.message)));
  assert.ok(addressRows([service], [kept]).some((row) => row.severity === 'OK' && /30443 kept/.test(row.message)));
});
