/**
 * `$(VAR)` expansion exactly as the kubelet does it for env values, `command` and `args`
 * (a port of k8s.io/kubernetes third_party/forked/golang/expansion): `$$` is an escaped `$`,
 * `$(NAME)` is replaced when NAME is defined and left as written when it is not, and any
 * other `$` (including an unterminated `$(`) is kept. Shared by the lab's kubelet and the
 * dependency graph, so both read a manifest the same way.
 */
export function expandKubeletVars(value: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let i = 0;
  while (i < value.length) {
    const dollar = value.indexOf('$', i);
    if (dollar === -1 || dollar === value.length - 1) {
      out += value.slice(i);
      break;
    }
    out += value.slice(i, dollar);
    const next = value[dollar + 1];
    if (next === '$') {
      out += '$';
      i = dollar + 2;
      continue;
    }
    if (next === '(') {
      const close = value.indexOf(')', dollar + 2);
      if (close === -1) {
        // Unterminated: Go's expansion keeps "$(" and goes on reading after it.
        out += '$(';
        i = dollar + 2;
        continue;
      }
      const name = value.slice(dollar + 2, close);
      const resolved = name === '' ? undefined : lookup(name);
      out += resolved ?? `$(${name})`;
      i = close + 1;
      continue;
    }
    out += `$${next}`;
    i = dollar + 2;
  }
  return out;
}

/** The names a value refers to with `$(NAME)` (after `$$` escapes), in order. */
export function kubeletVarNames(value: string): string[] {
  const names: string[] = [];
  expandKubeletVars(value, (name) => {
    names.push(name);
    return undefined;
  });
  return names;
}
