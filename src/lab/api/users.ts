/**
 * Who a lab cluster's bearer tokens belong to, as a real API server's static token file
 * (`--token-auth-file`) says it: the administrator's token, plus tokens minted for named
 * users (`alice`) so that a rehearsal or a test can act as someone else. The lab has no
 * RBAC: every user may do anything; only who they are differs (SelfSubjectReview).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

export interface LabUserInfo {
  username: string;
  uid: string;
  groups: string[];
}

/** The administrator's name: kubeadm's and kind's, so `kubectl auth whoami` reads as on those clusters. */
export const LAB_ADMIN_USER = 'kubernetes-admin';

export class LabUsers {
  private readonly byToken = new Map<string, LabUserInfo>();

  constructor(adminToken: string) {
    this.byToken.set(adminToken, { username: LAB_ADMIN_USER, uid: 'lab-admin', groups: ['system:masters', 'system:authenticated'] });
  }

  /** Mints a new token for `username` (a user may hold several); returns the token. */
  mint(username: string, groups: string[] = []): string {
    const token = randomBytes(24).toString('base64url');
    this.byToken.set(token, { username, uid: `lab-user-${username}`, groups: [...new Set([...groups, 'system:authenticated'])] });
    return token;
  }

  /** The user an `Authorization` header belongs to, or undefined (401). */
  authenticate(header: string | undefined): LabUserInfo | undefined {
    if (!header?.startsWith('Bearer ')) return undefined;
    const given = Buffer.from(header.slice('Bearer '.length));
    // Compared against every token in constant time each, so timing tells nothing about which is close.
    let found: LabUserInfo | undefined;
    for (const [token, user] of this.byToken) {
      const expected = Buffer.from(token);
      if (given.length === expected.length && timingSafeEqual(given, expected)) found = user;
    }
    return found;
  }
}

/** A user name the lab accepts: what Kubernetes allows in a static token file, without commas or control characters. */
export function isValidLabUsername(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && name.length <= 253 && !/[,\s\p{Cc}]/u.test(name);
}
