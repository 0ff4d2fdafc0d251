/**
 * A lab pod's volumes: ConfigMap, Secret, projected (ConfigMap/Secret sources) and emptyDir
 * volumes as files in a directory of the pod's own. Lab containers are processes on the
 * host, which cannot mount anything at `/etc/app`; so a container's env values, command and
 * args that name a path under one of its `volumeMounts[].mountPath` are rewritten to the
 * volume's directory — the limit: a path the program builds itself, or reads from a file,
 * is not rewritten. Files are written once, when the pod starts (as subPath mounts behave
 * on a real kubelet); a ConfigMap changed later reaches a pod when it is recreated.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import type { KubeObject } from '../../kube/object.js';

type Lookup = (kind: 'ConfigMap' | 'Secret', namespace: string, name: string) => KubeObject | undefined | Promise<KubeObject | undefined>;

interface KeyToPath {
  key: string;
  path: string;
  mode?: number;
}

interface VolumeSpec {
  name: string;
  configMap?: { name: string; items?: KeyToPath[]; optional?: boolean; defaultMode?: number };
  secret?: { secretName: string; items?: KeyToPath[]; optional?: boolean; defaultMode?: number };
  emptyDir?: Record<string, unknown>;
  projected?: { sources?: Array<{ configMap?: { name: string; items?: KeyToPath[]; optional?: boolean }; secret?: { name: string; items?: KeyToPath[]; optional?: boolean } }>; defaultMode?: number };
}

interface VolumeMount {
  name: string;
  mountPath: string;
  subPath?: string;
}

export interface PodVolumes {
  /** The pod's directory; one subdirectory per volume. */
  readonly dir: string;
  /** A function rewriting `mountPath…` in a text to the host path, for one container's mounts. */
  rewriter(container: Record<string, unknown>): (text: string) => string;
  remove(): Promise<void>;
}

/** Writes the pod's volumes; undefined when it has none the lab can serve. */
export async function preparePodVolumes(pod: KubeObject, lookup: Lookup | undefined): Promise<PodVolumes | undefined> {
  const volumes = (((pod.spec ?? {}) as { volumes?: VolumeSpec[] }).volumes ?? []).filter((volume) => volume.configMap || volume.secret || volume.emptyDir || volume.projected);
  if (volumes.length === 0) return undefined;
  const namespace = pod.metadata.namespace ?? 'default';
  const dir = await mkdtemp(join(tmpdir(), `ferry-lab-volumes-${pod.metadata.name.slice(0, 40)}-`));
  const served = new Map<string, string>();
  const dataOf = async (kind: 'ConfigMap' | 'Secret', name: string): Promise<Record<string, Buffer> | undefined> => {
    const object = await lookup?.(kind, namespace, name);
    if (!object) return undefined;
    const files: Record<string, Buffer> = {};
    const data = (object.data ?? {}) as Record<string, string>;
    for (const [key, value] of Object.entries(data)) files[key] = kind === 'ConfigMap' ? Buffer.from(value, 'utf8') : Buffer.from(value, 'base64');
    for (const [key, value] of Object.entries((object.binaryData ?? {}) as Record<string, string>)) files[key] = Buffer.from(value, 'base64');
    for (const [key, value] of Object.entries((object.stringData ?? {}) as Record<string, string>)) files[key] = Buffer.from(value, 'utf8');
    return files;
  };
  const write = async (target: string, kind: 'ConfigMap' | 'Secret', name: string, items: KeyToPath[] | undefined, mode: number | undefined) => {
    const files = await dataOf(kind, name);
    if (!files) return;
    const chosen = items ? items.filter((item) => files[item.key] !== undefined).map((item) => ({ path: item.path, content: files[item.key]!, mode: item.mode })) : Object.entries(files).map(([path, content]) => ({ path, content, mode: undefined }));
    for (const file of chosen) {
      const path = normalize(join(target, file.path));
      // An item path is relative and may not climb out of the volume (the API server refuses `..` too).
      if (!path.startsWith(`${target}/`)) continue;
      await mkdir(dirname(path), { recursive: true });
      // Secrets stay private to our user on a shared host, whatever their defaultMode says.
      await writeFile(path, file.content, { mode: kind === 'Secret' ? 0o600 : 0o644 });
      if (kind === 'ConfigMap' && (file.mode ?? mode) !== undefined) await chmod(path, (file.mode ?? mode)! & 0o777);
    }
  };
  for (const volume of volumes) {
    const target = join(dir, volume.name);
    await mkdir(target, { recursive: true, mode: 0o700 });
    if (volume.configMap) await write(target, 'ConfigMap', volume.configMap.name, volume.configMap.items, volume.configMap.defaultMode);
    else if (volume.secret) await write(target, 'Secret', volume.secret.secretName, volume.secret.items, volume.secret.defaultMode);
    else if (volume.projected) {
      for (const source of volume.projected.sources ?? []) {
        if (source.configMap) await write(target, 'ConfigMap', source.configMap.name, source.configMap.items, volume.projected.defaultMode);
        else if (source.secret) await write(target, 'Secret', source.secret.name, source.secret.items, volume.projected.defaultMode);
      }
    }
    served.set(volume.name, target);
  }
  return {
    dir,
    rewriter(container) {
      const mounts = ((Array.isArray(container.volumeMounts) ? container.volumeMounts : []) as VolumeMount[])
        .filter((mount) => served.has(mount.name) && mount.mountPath.startsWith('/'))
        .map((mount) => ({ from: mount.mountPath.replace(/\/+$/, '') || '/', to: mount.subPath ? join(served.get(mount.name)!, mount.subPath) : served.get(mount.name)! }))
        // The longest mount path first: `/etc/app/certs` inside `/etc/app` is its own volume.
        .sort((a, b) => b.from.length - a.from.length);
      if (mounts.length === 0) return (text) => text;
      const escaped = mounts.map((mount) => mount.from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
      // A mount path at the start of the text or after `=`, `:`, `,` or a space, ending the path or followed by `/`.
      const pattern = new RegExp(`(^|[=:,\\s])(${escaped.join('|')})(?=$|[/\\s,:;"'])`, 'g');
      return (text) => text.replace(pattern, (_match, before: string, path: string) => `${before}${mounts.find((mount) => mount.from === path)!.to}`);
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
