import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { preparePodVolumes } from '../../../src/lab/workloads/volumes.js';
import type { KubeObject } from '../../../src/kube/object.js';

const OBJECTS: Record<string, KubeObject> = {
  'ConfigMap/calls': { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'calls', namespace: 'shop' }, data: { calls: 'http://cart:80\n', other: 'x' } },
  'Secret/tls': { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'tls', namespace: 'shop' }, data: { 'tls.key': Buffer.from('KEY').toString('base64') } },
};
const lookup = (kind: string, _namespace: string, name: string) => OBJECTS[`${kind}/${name}`];

test('lab volumes: ConfigMap (items), Secret (private), projected and emptyDir as files of the pod; paths under a mountPath rewritten, others left', async () => {
  const pod: KubeObject = {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'frontend-abc', namespace: 'shop' },
    spec: {
      volumes: [
        { name: 'config', configMap: { name: 'calls', items: [{ key: 'calls', path: 'sub/calls.txt' }] } },
        { name: 'certs', secret: { secretName: 'tls' } },
        { name: 'all', projected: { sources: [{ configMap: { name: 'calls' } }, { secret: { name: 'tls' } }] } },
        { name: 'scratch', emptyDir: {} },
        { name: 'data', persistentVolumeClaim: { claimName: 'data' } },
      ],
    },
  };
  const volumes = await preparePodVolumes(pod, lookup);
  assert.ok(volumes);
  try {
    assert.equal(readFileSync(join(volumes.dir, 'config/sub/calls.txt'), 'utf8'), 'http://cart:80\n');
    assert.ok(!existsSync(join(volumes.dir, 'config/other')), 'items choose the keys');
    assert.equal(readFileSync(join(volumes.dir, 'certs/tls.key'), 'utf8'), 'KEY');
    assert.equal(statSync(join(volumes.dir, 'certs/tls.key')).mode & 0o777, 0o600);
    assert.deepEqual([readFileSync(join(volumes.dir, 'all/other'), 'utf8'), readFileSync(join(volumes.dir, 'all/tls.key'), 'utf8')], ['x', 'KEY']);
    assert.ok(statSync(join(volumes.dir, 'scratch')).isDirectory());

    const rewrite = volumes.rewriter({ volumeMounts: [
      { name: 'config', mountPath: '/etc/app' },
      { name: 'certs', mountPath: '/etc/app/certs/' },
      { name: 'scratch', mountPath: '/tmp/work' },
      { name: 'data', mountPath: '/var/lib/data' },
    ] });
    assert.equal(rewrite('/etc/app/sub/calls.txt'), join(volumes.dir, 'config/sub/calls.txt'));
    assert.equal(rewrite('--tls-key=/etc/app/certs/tls.key'), `--tls-key=${join(volumes.dir, 'certs/tls.key')}`, 'the longest mount wins');
    assert.equal(rewrite('cat /tmp/work; ls /tmp/work/x'), `cat ${join(volumes.dir, 'scratch')}; ls ${join(volumes.dir, 'scratch')}/x`);
    assert.equal(rewrite('/etc/application'), '/etc/application', 'a longer name is another path');
    assert.equal(rewrite('/var/lib/data/x'), '/var/lib/data/x', 'a volume kind the lab does not serve is left as written');
    assert.equal(volumes.rewriter({})('/etc/app/x'), '/etc/app/x', 'a container without the mount sees no rewrite');
  } finally {
    await volumes.remove();
  }
  assert.ok(!existsSync(volumes.dir));
  assert.equal(await preparePodVolumes({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: {} }, lookup), undefined);
});
