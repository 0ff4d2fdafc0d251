/**
 * `--observed linkerd=…` against a real Prometheus: it scrapes an exporter serving Linkerd's
 * proxy series (text after https://linkerd.io/2/reference/proxy-metrics/ — no Linkerd proxy
 * runs here), whose outbound counters grow between scrapes; the source's PromQL finds each
 * caller → callee by deployment/statefulset with the calls of the window.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { linkerdPrometheusSource } from '../../../src/graph/observed/linkerd.js';
import { startPrometheus } from '../analysis/helpers.js';
import { queryVector } from '../../../src/analysis/prometheus.js';
import { waitFor } from '../lab/workloads-helpers.js';

test('linkerd: outbound request_total and tcp_open_total in Prometheus become edges with the window\'s calls', async () => {
  let frontendToCart = 5;
  let cartToDb = 0;
  const server = createServer((_request, response) => {
    response.setHeader('content-type', 'text/plain; version=0.0.4');
    response.end(`# TYPE request_total counter
request_total{direction="outbound",authority="cart.shop.svc.cluster.local:7070",namespace="shop",deployment="frontend",pod="frontend-1",dst_namespace="shop",dst_deployment="cart",dst_pod="cart-1",tls="true"} ${frontendToCart}
request_total{direction="inbound",namespace="shop",deployment="cart",pod="cart-1",tls="true"} ${frontendToCart}
request_total{direction="outbound",authority="example.com:443",namespace="shop",deployment="cart",pod="cart-1"} 4
# TYPE tcp_open_total counter
${cartToDb > 0 ? `tcp_open_total{direction="outbound",peer="dst",namespace="shop",deployment="cart",pod="cart-1",dst_namespace="shop",dst_statefulset="db",dst_pod="db-0"} ${cartToDb}\n` : ''}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const prometheus = await startPrometheus([{ job: 'linkerd-proxy', targets: [`127.0.0.1:${port}`] }], 250);
  try {
    // Prometheus applies new targets a few seconds after it starts.
    await waitFor('the first scrape', async () => (await queryVector(prometheus.url, 'up', Date.now())).length > 0, 20_000, 250);
    const grow = setInterval(() => {
      frontendToCart += 10;
      cartToDb += 1;
    }, 250);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    clearInterval(grow);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const edges = await linkerdPrometheusSource(`linkerd=${prometheus.url}`, prometheus.url).observe({ seconds: 30, sampleSeconds: 1 });
    const byPair = new Map(edges.map((edge) => ['name' in edge.from && 'name' in edge.to ? `${edge.from.kind}/${edge.from.name}->${edge.to.kind}/${edge.to.name}` : '?', edge]));
    assert.deepEqual([...byPair.keys()].sort(), ['Deployment/cart->StatefulSet/db', 'Deployment/frontend->Deployment/cart']);
    const cart = byPair.get('Deployment/frontend->Deployment/cart')!;
    // Every value the series ever had is in the window (it was born in it): the first 5 and the growth after.
    assert.equal(cart.requests, frontendToCart);
    assert.equal(cart.protocol, 'http');
    assert.ok(Math.abs(cart.requestsPerSecond - frontendToCart / 30) < 1e-9);
    const db = byPair.get('Deployment/cart->StatefulSet/db')!;
    assert.equal(db.protocol, 'tcp');
    assert.equal(db.requests, cartToDb);
  } finally {
    await prometheus.stop();
    await new Promise((resolve) => server.close(resolve));
  }
});
