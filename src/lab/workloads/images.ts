import { fileURLToPath } from 'node:url';
import { extname } from 'node:path';
import type { ContainerRunKind } from '../runtime.js';

/** Sample apps shipped with Ferry, by image name (registry/name, tag optional). */
export const SAMPLE_IMAGES = {
  'ferry.dev/echo': 'echo',
  'ferry.dev/shop': 'shop',
  'ferry.dev/callgraph': 'callgraph',
} as const;

export const COMMAND_ANNOTATION = 'lab.ferry.dev/command';

export interface ContainerProgram {
  kind: ContainerRunKind;
  /** argv[0] and the rest; run without a shell except for `command` kind (`/bin/sh -c`). */
  argv: string[];
  /** The image tag, reported by sample apps as their version. */
  version: string;
}

/** Splits `ferry.dev/echo:v2` or `ferry.dev/echo@sha256:…` into name and tag. */
export function parseImage(image: string): { name: string; tag: string } {
  const at = image.indexOf('@');
  const withoutDigest = at === -1 ? image : image.slice(0, at);
  const colon = withoutDigest.lastIndexOf(':');
  if (colon > withoutDigest.lastIndexOf('/')) {
    return { name: withoutDigest.slice(0, colon), tag: withoutDigest.slice(colon + 1) };
  }
  return { name: withoutDigest, tag: 'latest' };
}

/** The file of a sample app, beside this module in source (.ts) or in the build (.js). */
export function sampleAppPath(app: string): string {
  const ext = extname(fileURLToPath(import.meta.url)) || '.ts';
  return fileURLToPath(new URL(`./apps/${app}${ext}`, import.meta.url));
}

/** `--import tsx` resolved to a file URL so children find tsx whatever their cwd is. */
function tsxImport(): string {
  return import.meta.resolve('tsx');
}

export function nodeArgv(app: string): string[] {
  return [process.execPath, '--import', tsxImport(), sampleAppPath(app)];
}

/**
 * Decides what runs for one container. A command annotation wins (it is how a rehearsal
 * plugs its own program in); then a sample app image; anything else gets the echo app as a
 * stand-in — we cannot pull or run container images here, but a real process that listens
 * on the declared ports keeps readiness and traffic honest.
 */
export function programFor(
  image: string,
  containerName: string,
  isFirstContainer: boolean,
  annotations: Record<string, string>,
  init: boolean,
): ContainerProgram {
  const { name, tag } = parseImage(image);
  const command = annotations[`${COMMAND_ANNOTATION}.${containerName}`] ?? (isFirstContainer ? annotations[COMMAND_ANNOTATION] : undefined);
  if (command !== undefined) return { kind: 'command', argv: ['/bin/sh', '-c', command], version: tag };
  const app = (SAMPLE_IMAGES as Record<string, string>)[name];
  if (app !== undefined) return { kind: 'sample', argv: nodeArgv(app), version: tag };
  // An init container of an image we cannot run (e.g. busybox waiting for a dependency)
  // is recorded as completed: running the echo app would never exit.
  if (init) return { kind: 'skipped', argv: [], version: tag };
  return { kind: 'stand-in', argv: nodeArgv('echo'), version: tag };
}
