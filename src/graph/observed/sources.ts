/** `--observed` values as sources: `prometheus=URL`, `linkerd=URL`, `router=URL`, `lab[=CONTEXT]`. */
import { KubeClient } from '../../kube/client.js';
import { loadKubeConfig } from '../../kube/config.js';
import { FerryError } from '../../util/errors.js';
import { withoutCredentials } from './counters.js';
import { istioPrometheusSource } from './istio.js';
import { labSource } from './lab.js';
import { linkerdPrometheusSource } from './linkerd.js';
import type { ObservedEdge, ObservedEdgeSource, ObserveWindow } from './model.js';
import { routerSource } from './router.js';

export const OBSERVED_FORMS = 'prometheus=URL (Istio\'s metrics), linkerd=URL (a Prometheus with Linkerd\'s), router=ADMIN-URL (the embedded router), lab (the context\'s lab networking) or lab=CONTEXT';

export interface SourceContext {
  /** The context the graph reads (`--context`, `--from`): `lab` reads this one's networking. */
  context?: string;
  kubeconfig?: string;
}

export function observedSource(spec: string, context: SourceContext): ObservedEdgeSource {
  const eq = spec.indexOf('=');
  const kind = (eq < 0 ? spec : spec.slice(0, eq)).trim();
  const value = eq < 0 ? undefined : spec.slice(eq + 1).trim();
  const usage = (message: string, fix: string) => new FerryError('usage', `--observed ${eq < 0 ? spec : `${kind}=${value ? withoutCredentials(value) : ''}`}: ${message}`, { location: { field: '--observed' }, fix });
  const url = (example: string): string => {
    if (!value) throw usage('needs a URL', `e.g. --observed ${kind}=${example}`);
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw usage(`"${withoutCredentials(value)}" is not a URL`, `e.g. --observed ${kind}=${example}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw usage('the URL must be http or https', `e.g. --observed ${kind}=${example}`);
    return value;
  };
  switch (kind) {
    case 'prometheus':
    case 'istio': {
      const address = url('http://prometheus.istio-system:9090');
      return istioPrometheusSource(`${kind}=${withoutCredentials(address)}`, address);
    }
    case 'linkerd': {
      const address = url('http://prometheus.linkerd-viz:9090');
      return linkerdPrometheusSource(`linkerd=${withoutCredentials(address)}`, address);
    }
    case 'router': {
      const address = url('http://127.0.0.1:9901');
      return routerSource(`router=${withoutCredentials(address)}`, address);
    }
    case 'lab': {
      const labContext = value || context.context;
      if (!labContext) throw usage('no context to read the lab networking of', 'pass --context (or --from) naming the lab cluster, or --observed lab=CONTEXT');
      return labSource(value ? `lab=${value}` : 'lab', () => new KubeClient(loadKubeConfig({ context: labContext, ...(context.kubeconfig ? { kubeconfig: context.kubeconfig } : {}) })));
    }
    default:
      throw usage(`unknown source "${kind}"`, `use ${OBSERVED_FORMS}`);
  }
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

export function parseObserveWindow(window: string, sample: string): ObserveWindow {
  const seconds = (text: string, flag: string) => {
    const match = DURATION.exec(text.trim());
    const value = match ? Number(match[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[match[2] as 'ms' | 's' | 'm' | 'h'] : NaN;
    if (!(value > 0)) throw new FerryError('usage', `${flag} "${text}" is not a duration`, { location: { field: flag }, fix: `e.g. ${flag} ${flag === '--observed-window' ? '10m' : '5s'}` });
    return value;
  };
  return { seconds: seconds(window, '--observed-window'), sampleSeconds: seconds(sample, '--observed-sample') };
}

/** Every source's edges; sources are read in parallel and the first failure is reported. */
export async function observeAll(sources: readonly ObservedEdgeSource[], window: ObserveWindow): Promise<ObservedEdge[]> {
  const at = window.at ?? Date.now();
  const results = await Promise.all(sources.map((source) => source.observe({ ...window, at })));
  return results.flat();
}
