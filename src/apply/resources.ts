import type { KubeClient, ApiResource } from '../kube/client.js';
import type { KubeObject } from '../kube/object.js';
import { describeObject } from '../kube/object.js';
import { FerryError } from '../util/errors.js';

/** Maps objects to REST paths using the cluster's own discovery (refreshed after CRDs are added). */
export class ResourcePaths {
  private byKind = new Map<string, ApiResource>();

  constructor(private readonly client: KubeClient) {}

  async refresh(): Promise<void> {
    this.byKind = new Map((await this.client.discoverResourcesAllVersions()).map((resource) => [`${resource.apiVersion}|${resource.kind}`, resource]));
  }

  resourceOf(object: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): ApiResource {
    const resource = this.byKind.get(`${object.apiVersion}|${object.kind}`);
    if (!resource) {
      throw new FerryError('apply', `the target does not serve ${object.apiVersion} ${object.kind}`, {
        location: { object: describeObject(object as KubeObject) },
        fix: 'run `ferry preflight`: install the CRD on the target or convert the object to a served version',
      });
    }
    return resource;
  }

  /** `/api/v1/namespaces/ns/services/name` and the like. */
  pathOf(object: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>, withName = true): string {
    const resource = this.resourceOf(object);
    const base = resource.group ? `/apis/${resource.group}/${resource.version}` : `/api/${resource.version}`;
    const namespace = resource.namespaced ? `/namespaces/${encodeURIComponent(object.metadata.namespace ?? 'default')}` : '';
    return `${base}${namespace}/${resource.plural}${withName ? `/${encodeURIComponent(object.metadata.name)}` : ''}`;
  }
}
