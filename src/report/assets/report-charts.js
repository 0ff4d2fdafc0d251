/* global uPlot, document, window */
// The run report's plots, drawn in the browser from the report embedded in the page (no
// network). Every plot's data is exactly the journal's: weight-set records (and the 0 a
// rollback read back), ramp-sample records. Each plot is kept on window.ferryReport.charts
// ({ slice, kind, series, plot }) so what was drawn can be read back (u.data).
(function () {
  'use strict';
  var report = JSON.parse(document.getElementById('ferry-report-data').textContent);
  var charts = [];
  window.ferryReport = { report: report, charts: charts, ready: false };
  var t0 = report.run.startedAt || 0;
  var tEnd = report.run.endedAt || report.run.lastRecordAt || t0;
  var slices = {};
  report.waves.forEach(function (wave) {
    wave.slices.forEach(function (slice) { slices[slice.name] = slice; });
  });
  var utc = function (ts) { return uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'); };
  var colors = { target: '#2563eb', source: '#9333ea', weight: '#2563eb', lag: '#0f766e' };
  var MARKS = { onset: { color: '#ea580c', dash: [6, 4], label: 'onset' }, detected: { color: '#dc2626', dash: [], label: 'detected' }, zero: { color: '#16a34a', dash: [2, 3], label: 'weight 0' } };

  // Rollbacks of a slice as vertical lines: onset, detection, weight read back at 0.
  function marksOf(name) {
    var marks = [];
    report.scorecard.failures.forEach(function (failure) {
      if (failure.slice !== name) return;
      if (failure.onsetAt !== undefined) marks.push({ at: failure.onsetAt, kind: MARKS.onset, failure: failure.kind });
      marks.push({ at: failure.detectedAt, kind: MARKS.detected, failure: failure.kind });
      if (failure.weightZeroAt !== undefined) marks.push({ at: failure.weightZeroAt, kind: MARKS.zero, failure: failure.kind });
    });
    return marks;
  }

  function markerPlugin(marks, holdLast) {
    return {
      hooks: {
        draw: [function (u) {
          var ctx = u.ctx;
          var ratio = window.devicePixelRatio || 1;
          ctx.save();
          // A weight holds until the next one: the last is drawn on to the end of the run (dotted), not as a point.
          var xs = u.data[0];
          if (holdLast && xs.length > 0) {
            var lastX = u.valToPos(xs[xs.length - 1], 'x', true);
            var lastY = u.valToPos(u.data[1][xs.length - 1], 'y', true);
            ctx.strokeStyle = holdLast;
            ctx.lineWidth = 2 * ratio;
            ctx.setLineDash([2 * ratio, 3 * ratio]);
            ctx.beginPath();
            ctx.moveTo(lastX, lastY);
            ctx.lineTo(u.bbox.left + u.bbox.width, lastY);
            ctx.stroke();
          }
          ctx.font = (11 * ratio) + 'px sans-serif';
          marks.forEach(function (mark, i) {
            var x = u.valToPos(mark.at / 1000, 'x', true);
            if (!(x >= u.bbox.left && x <= u.bbox.left + u.bbox.width)) return;
            ctx.strokeStyle = mark.kind.color;
            ctx.fillStyle = mark.kind.color;
            ctx.lineWidth = 2 * ratio;
            ctx.setLineDash(mark.kind.dash.map(function (d) { return d * ratio; }));
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
            ctx.fillText(mark.kind.label, x + 3 * ratio, u.bbox.top + (12 + (i % 3) * 12) * ratio);
          });
          ctx.restore();
        }],
      },
    };
  }

  function draw(container, slice, kind, title, yLabel, series, data, yRange, holdLast) {
    var box = document.createElement('div');
    box.className = 'chart';
    box.setAttribute('data-kind', kind);
    container.appendChild(box);
    var width = Math.max(480, Math.min(1100, container.clientWidth || 900));
    var opts = {
      title: title,
      width: width,
      height: 200,
      tzDate: utc,
      scales: {
        x: { time: true, range: function () { return [t0 / 1000, Math.max(tEnd, t0 + 1000) / 1000]; } },
        y: yRange ? { range: yRange } : {},
      },
      series: [{ label: 'time (UTC)' }].concat(series),
      axes: [{}, { label: yLabel }],
      plugins: [markerPlugin(marksOf(slice.name), holdLast)],
    };
    var plot = new uPlot(opts, data, box);
    charts.push({ slice: slice.name, kind: kind, series: series.map(function (s) { return s.label; }), plot: plot });
  }

  function ratePercent(side) {
    return side.requests > 0 ? (side.errors / side.requests) * 100 : null;
  }
  function orNull(value) {
    return value === undefined ? null : value;
  }

  var containers = document.querySelectorAll('.charts[data-slice]');
  Array.prototype.forEach.call(containers, function (container) {
    var slice = slices[container.getAttribute('data-slice')];
    if (!slice) return;
    if (slice.weights.length > 0) {
      draw(container, slice, 'weight', slice.name + ': target weight', '%',
        [{ label: 'target weight %', stroke: colors.weight, width: 2, paths: uPlot.paths.stepped({ align: 1 }), points: { show: true } }],
        [slice.weights.map(function (w) { return w.at / 1000; }), slice.weights.map(function (w) { return w.weight; })],
        [0, 100], colors.weight);
    }
    var samples = slice.samples;
    if (samples.length > 0) {
      var x = samples.map(function (s) { return s.to / 1000; });
      draw(container, slice, 'errors', slice.name + ': error rate per side', '% errors',
        [
          { label: 'target errors %', stroke: colors.target, width: 2, points: { show: true } },
          { label: 'source errors %', stroke: colors.source, width: 2, points: { show: true } },
        ],
        [x, samples.map(function (s) { return ratePercent(s.target); }), samples.map(function (s) { return ratePercent(s.source); })]);
      draw(container, slice, 'latency', slice.name + ': p99 latency per side', 'ms',
        [
          { label: 'target p99 ms', stroke: colors.target, width: 2, points: { show: true } },
          { label: 'source p99 ms', stroke: colors.source, width: 2, points: { show: true } },
        ],
        [x, samples.map(function (s) { return orNull(s.target.p99Ms); }), samples.map(function (s) { return orNull(s.source.p99Ms); })]);
    }
    // Lag while data syncs (lag-sample) and through the ramp (ramp-sample).
    if (slice.lag.length > 0) {
      draw(container, slice, 'lag', slice.name + ': replication lag', 'ms',
        [{ label: 'replication lag ms', stroke: colors.lag, width: 2, points: { show: true } }],
        [slice.lag.map(function (l) { return l.at / 1000; }), slice.lag.map(function (l) { return l.lagMs; })]);
    }
  });
  window.ferryReport.ready = true;
})();
