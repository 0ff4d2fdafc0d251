import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inventoryFromManifests } from '../../../src/inventory/load.js';
import { generatePlan } from '../../../src/plan/generate.js';
import { assertRunnable, runnableProblems } from '../../../src/plan/runnable.js';
import { dataSyncSchema, type MigrationPlan, type Slice } from '../../../src/plan/schema.js';
import type { TrafficProviderConfig } from '../../../src/traffic/provider-config.js';
import { isFerryError } from '../../../src/util/errors.js';
import { BOUTIQUE } from '../../helpers/cli.js';

const boutique = inventoryFromManifests({ manifests: BOUTIQUE }).objects;
const env = { FERRY_ROUTER_TOKEN: 'token', PDNS_API_KEY: 'key', SHOP_DB: 'postgresql://shop@db/shop' };

/** Online Boutique planned with the router and Prometheus: runnable as it is. */
function runnablePlan(): MigrationPlan {
  return generatePlan(boutique, {
    source: { context: 'source' },
    target: { context: 'target' },
    traffic: { kind: 'router', router: { adminUrl: 'http://127.0.0.1:9901' } },
    metrics: { url: 'http://127.0.0.1:9090' },
  });
}

function at(plan: MigrationPlan, name: string): { slice: Slice; field: string } {
  for (const [w, wave] of plan.spec.waves.entries()) {
    const s = wave.slices.findIndex((slice) => slice.name === name);
    if (s >= 0) return { slice: wave.slices[s]!, field: `spec.waves[${w}].slices[${s}]` };
  }
  throw new Error(`no slice ${name}`);
}

const haproxy: TrafficProviderConfig = { type: 'haproxy', socket: '/run/haproxy.sock', backend: 'frontend', sourceServer: 'source', targetServer: 'target' };
const istio: TrafficProviderConfig = {
  type: 'istio', namespace: 'default', name: 'frontend', hosts: ['frontend.default.svc.cluster.local'],
  source: { host: 'frontend-ferry-source.default.svc.cluster.local' }, target: { host: 'frontend.default.svc.cluster.local' },
};
const route53: TrafficProviderConfig = {
  type: 'route53', hostedZoneId: 'Z1', record: 'shop.example.com', recordType: 'A', originalTtl: 300, rampTtl: 30,
  source: { setIdentifier: 'ferry-source', values: ['10.0.0.1'] }, target: { setIdentifier: 'ferry-target', values: ['10.0.0.2'] }, outDir: 'route53/frontend',
};
const data = (source: string, target = 'env:SHOP_DB') => dataSyncSchema.parse({ source, target });

interface Case {
  name: string;
  /** Breaks the plan; returns the field the problem must name. */
  breakPlan: (plan: MigrationPlan) => string;
  message: RegExp;
  severity?: 'error' | 'warning';
  options?: Parameters<typeof runnableProblems>[1];
}

const cases: Case[] = [
  {
    name: 'a slice names a traffic provider kind without its settings',
    breakPlan: (plan) => {
      const { slice, field } = at(plan, 'frontend');
      slice.traffic = { provider: 'router' };
      return `${field}.traffic.provider`;
    },
    message: /^slice frontend names the router traffic provider without its settings$/,
  },
  {
    name: 'the defaults name a bare kind and a slice inherits it',
    breakPlan: (plan) => {
      plan.spec.defaults.traffic.provider = 'router';
      delete at(plan, 'cartservice').slice.traffic;
      return 'spec.defaults.traffic.provider';
    },
    message: /^slice cartservice names the router traffic provider without its settings$/,
  },
  {
    name: 'a slice moves traffic but the plan names no metrics',
    breakPlan: (plan) => {
      delete plan.spec.metrics;
      return 'spec.metrics';
    },
    message: /^slice frontend moves traffic \(router\) but the plan names no metrics to judge it by$/,
  },
  {
    name: 'a route53 slice: generate-only, cannot be judged or sent',
    breakPlan: (plan) => {
      const { slice, field } = at(plan, 'frontend');
      slice.traffic = { provider: route53, mirror: { percent: 0, allowNonIdempotent: false, ignoreJsonPaths: [] }, stickiness: {} };
      return `${field}.traffic.provider`;
    },
    message: /^slice frontend: route53 is generate-only: .*outDir.* cannot send them or judge the ramp/,
  },
  {
    name: 'mirroring (from the defaults) over a provider that cannot mirror',
    breakPlan: (plan) => {
      plan.spec.defaults.traffic.stickiness = {};
      at(plan, 'frontend').slice.traffic = { provider: haproxy };
      return 'spec.defaults.traffic.mirror.percent';
    },
    message: /^slice frontend: the haproxy provider cannot compare mirrored responses, so the shadow stage would judge nothing$/,
  },
  {
    name: "mirroring in the slice's own traffic over a provider that cannot mirror",
    breakPlan: (plan) => {
      const { slice, field } = at(plan, 'frontend');
      plan.spec.defaults.traffic.mirror!.percent = 0;
      plan.spec.defaults.traffic.stickiness = {};
      slice.traffic = { provider: haproxy, mirror: { percent: 5, allowNonIdempotent: false, ignoreJsonPaths: [] } };
      return `${field}.traffic.mirror.percent`;
    },
    message: /the haproxy provider cannot compare mirrored responses/,
  },
  {
    name: 'mirroring over Istio, which mirrors but reports no comparison',
    breakPlan: (plan) => {
      plan.spec.defaults.traffic.stickiness = {};
      at(plan, 'frontend').slice.traffic = { provider: istio };
      return 'spec.defaults.traffic.mirror.percent';
    },
    message: /^slice frontend: the istio provider cannot compare mirrored responses, so the shadow stage would judge nothing$/,
  },
  {
    name: 'stickiness over a provider without stickiness',
    breakPlan: (plan) => {
      plan.spec.defaults.traffic.mirror!.percent = 0;
      at(plan, 'frontend').slice.traffic = { provider: istio };
      return 'spec.defaults.traffic.stickiness';
    },
    message: /^slice frontend: the istio provider cannot be told how to keep users on one side$/,
  },
  {
    name: 'stickiness over HAProxy, which keeps users by its own cookie but cannot be told',
    breakPlan: (plan) => {
      const { slice, field } = at(plan, 'frontend');
      plan.spec.defaults.traffic.mirror!.percent = 0;
      slice.traffic = { provider: haproxy, stickiness: { header: 'x-user' } };
      return `${field}.traffic.stickiness`;
    },
    message: /^slice frontend: the haproxy provider cannot be told how to keep users on one side$/,
  },
  {
    name: "Istio subsets of one host that the judge's metrics cannot tell apart (the run's own refusal)",
    breakPlan: (plan) => {
      const { slice, field } = at(plan, 'frontend');
      plan.spec.defaults.traffic.stickiness = {};
      plan.spec.defaults.traffic.mirror!.percent = 0;
      const host = 'frontend.default.svc.cluster.local';
      slice.traffic = { provider: { ...istio, type: 'istio', hosts: [host], source: { host, subset: 'old', labels: { app: 'frontend' } }, target: { host, subset: 'new', labels: { app: 'frontend' } } } as TrafficProviderConfig };
      return `${field}.traffic.provider.source.labels`;
    },
    message: /Istio's metrics tell subsets apart only by the pods' version label/,
  },
  {
    name: 'a secret: reference while the source is exported YAML with no cluster context',
    breakPlan: (plan) => {
      const { slice, field } = at(plan, 'cartservice');
      plan.spec.source = { manifests: BOUTIQUE };
      slice.data = data('secret:shop/db-credentials/url');
      return `${field}.data.source`;
    },
    message: /data\.source reads Secret shop\/db-credentials, but the plan's source names no cluster$/,
  },
  {
    name: 'an env: reference whose variable is unset (run: error)',
    breakPlan: (plan) => {
      const { slice, field } = at(plan, 'cartservice');
      slice.data = data('env:FERRY_TEST_UNSET_DB');
      return `${field}.data.source`;
    },
    message: /^environment variable FERRY_TEST_UNSET_DB is not set$/,
  },
  {
    name: 'an env: reference whose variable is unset (validate: warning)',
    breakPlan: (plan) => {
      const { slice, field } = at(plan, 'cartservice');
      slice.data = data('env:FERRY_TEST_UNSET_DB');
      return `${field}.data.source`;
    },
    message: /^environment variable FERRY_TEST_UNSET_DB is not set$/,
    severity: 'warning',
    options: { env, unsetEnv: 'warning' },
  },
  {
    name: "the router's token variable is unset",
    breakPlan: (plan) => `${at(plan, 'frontend').field}.traffic.provider.tokenEnv`,
    message: /^environment variable FERRY_ROUTER_TOKEN is not set$/,
    options: { env: { ...env, FERRY_ROUTER_TOKEN: '' } },
  },
  {
    name: 'a malformed env: reference',
    breakPlan: (plan) => {
      const { slice, field } = at(plan, 'cartservice');
      slice.data = data('env:1-bad');
      return `${field}.data.source`;
    },
    message: /is not a valid env: reference/,
  },
  {
    name: 'a secret: reference without a key',
    breakPlan: (plan) => {
      const { slice, field } = at(plan, 'cartservice');
      slice.data = data('env:SHOP_DB', 'secret:shop/db-credentials');
      return `${field}.data.target`;
    },
    message: /is not a Secret reference: it has 2 parts separated by \/, not 3$/,
  },
  {
    name: 'a secret: reference with a namespace that is no Kubernetes name',
    breakPlan: (plan) => {
      const { slice, field } = at(plan, 'cartservice');
      slice.data = data('secret:Shop_NS/db/url');
      return `${field}.data.source`;
    },
    message: /is not a Secret reference: its namespace is not a Kubernetes namespace name$/,
  },
  {
    name: 'no target context to apply to',
    breakPlan: (plan) => {
      plan.spec.target = { manifests: '/tmp/target.yaml' };
      return 'spec.target.context';
    },
    message: /^the plan names no target context$/,
  },
];

for (const c of cases) {
  test(`refused: ${c.name}`, () => {
    const plan = runnablePlan();
    assert.deepEqual(runnableProblems(plan, { env }), [], 'the plan runs before it is broken');
    const field = c.breakPlan(plan);
    const problems = runnableProblems(plan, c.options ?? { env });
    assert.equal(problems.length, 1, JSON.stringify(problems, null, 2));
    assert.equal(problems[0]!.field, field);
    assert.equal(problems[0]!.severity, c.severity ?? 'error');
    assert.match(problems[0]!.message, c.message);
    assert.ok(problems[0]!.fix.length > 0);
  });
}

test('well-formed references resolve; without env, variables are not looked up', () => {
  const plan = runnablePlan();
  at(plan, 'cartservice').slice.data = data('secret:shop/db-credentials/url', 'env:SHOP_DB');
  assert.deepEqual(runnableProblems(plan, { env }), []);
  assert.deepEqual(runnableProblems(plan), []);
});

test('the messages never echo a mistyped secret reference', () => {
  const plan = runnablePlan();
  at(plan, 'cartservice').slice.data = data('secret:postgres://admin:hunter2@db/shop');
  const [problem] = runnableProblems(plan, { env });
  assert.ok(problem);
  assert.doesNotMatch(JSON.stringify(problem), /hunter2/);
});

test('assertRunnable throws the first error as ferry run prints it: field, message, fix, file:line:column', () => {
  const plan = runnablePlan();
  at(plan, 'frontend').slice.traffic = { provider: 'router' };
  delete plan.spec.metrics;
  assert.throws(
    () => assertRunnable(plan, { env, file: 'plan.yaml', positionOf: () => ({ line: 12, column: 9 }) }),
    (error: unknown) => {
      assert.ok(isFerryError(error));
      assert.equal(error.message, 'slice frontend names the router traffic provider without its settings');
      assert.match(error.oneLine(), /^plan\.yaml:12:9: spec\.waves\[\d+\]\.slices\[\d+\]\.traffic\.provider: slice frontend names .* \(`ferry validate plan\.yaml` lists all 2\)\)$/);
      return true;
    },
  );
  assert.doesNotThrow(() => assertRunnable(runnablePlan(), { env }));
});
