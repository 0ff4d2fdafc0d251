/**
 * Who the cluster says the caller is: a SelfSubjectReview (`kubectl auth whoami`). An
 * identity read this way comes from the caller's credentials, so it cannot be typed in.
 */
import type { KubeClient } from './client.js';
import { FerryError } from '../util/errors.js';

export interface ReviewedUser {
  username: string;
  uid?: string;
  groups: string[];
}

/** GA in Kubernetes 1.28, beta in 1.27: v1 first, v1beta1 on a 404. */
const VERSIONS = ['v1', 'v1beta1'];

export async function reviewedUser(client: KubeClient): Promise<ReviewedUser> {
  for (const version of VERSIONS) {
    try {
      const review = await client.request<{ status?: { userInfo?: { username?: string; uid?: string; groups?: string[] } } }>({
        method: 'POST',
        path: `/apis/authentication.k8s.io/${version}/selfsubjectreviews`,
        body: { apiVersion: `authentication.k8s.io/${version}`, kind: 'SelfSubjectReview' },
      });
      const info = review?.status?.userInfo;
      if (!info?.username) {
        throw new FerryError('identity', `cluster "${client.contextName}" reported no user name for these credentials`, { fix: 'use credentials of a named user (not anonymous) for this context' });
      }
      return { username: info.username, ...(info.uid ? { uid: info.uid } : {}), groups: info.groups ?? [] };
    } catch (error) {
      if (error instanceof FerryError && error.code === 'http-404' && version !== VERSIONS.at(-1)) continue;
      if (error instanceof FerryError && error.code === 'http-404') {
        throw new FerryError('identity', `cluster "${client.contextName}" does not serve SelfSubjectReview (Kubernetes 1.27 or later)`, { fix: 'upgrade the cluster, or approve from a context on a cluster that tells who you are', cause: error });
      }
      throw error;
    }
  }
  throw new FerryError('identity', 'unreachable');
}
