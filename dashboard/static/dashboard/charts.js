/* Patient page charts: reads the specs embedded with json_script (#chart-data) and draws one
 * Chart.js chart per <canvas data-chart="key">. Dates arrive as ISO strings and are placed on
 * a linear time axis (milliseconds), so no date adapter is needed. Every series is told apart
 * by line style or point shape as well as colour. */
(function () {
  "use strict";

  var DAY = 86400000;
  var INK = "#1f2937";
  var GRID = "#e5e7eb";
  // Okabe-Ito: distinguishable with the common colour-vision deficiencies.
  var PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442"];
  var SHAPES = ["circle", "rect", "triangle", "rectRot", "star", "crossRot", "cross", "rectRounded"];
  var GRADE_COLOURS = { 2: "#b45309", 3: "#c2410c", 4: "#b91c1c" };
  var DASHES = { 2: [6, 4], 3: [3, 3], 4: [1, 3] };

  function toMs(iso) {
    return Date.parse(iso + "T00:00:00Z");
  }

  function fmt(ms) {
    return new Date(ms).toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "2-digit", timeZone: "UTC" });
  }

  function dataset(spec, index) {
    var data = spec.points.map(function (p) { return { x: toMs(p[0]), y: p[1] }; });
    var base = { label: spec.label, data: data, borderWidth: 2, pointRadius: 3, tension: 0 };
    var colour = PALETTE[(spec.palette !== undefined ? spec.palette : index) % PALETTE.length];
    switch (spec.style) {
      case "step":
        return Object.assign(base, { stepped: "after", borderColor: "#1d4ed8", backgroundColor: "rgba(29,78,216,0.08)",
          fill: "origin", pointRadius: 0, borderWidth: 2.5, order: 3, pointStyle: "line" });
      case "step_average":
        return Object.assign(base, { stepped: "after", borderColor: "#6b7280", borderDash: [6, 4], pointRadius: 0,
          borderWidth: 1.5, order: 4, pointStyle: "line" });
      case "points":
        return Object.assign(base, { showLine: false, pointStyle: "circle", pointRadius: 2.5, borderWidth: 1,
          borderColor: "#047857", backgroundColor: "#34d399", order: 1 });
      case "missed":
        return Object.assign(base, { showLine: false, pointStyle: "crossRot", pointRadius: 6, borderWidth: 2,
          borderColor: "#b91c1c", backgroundColor: "#b91c1c", order: 0 });
      case "cr":
        return Object.assign(base, { showLine: false, pointStyle: "triangle", pointRadius: 8, borderColor: "#047857",
          backgroundColor: "#10b981", order: 0 });
      case "relapse":
        return Object.assign(base, { showLine: false, pointStyle: "crossRot", pointRadius: 9, borderWidth: 3,
          borderColor: "#b91c1c", backgroundColor: "#b91c1c", order: 0 });
      case "threshold":
        var c = GRADE_COLOURS[spec.grade] || "#6b7280";
        return Object.assign(base, { borderColor: c, borderDash: DASHES[spec.grade] || [4, 4], borderWidth: 1.5,
          pointRadius: 0, pointHitRadius: 0, fill: false, order: 5, pointStyle: "line" });
      default:
        return Object.assign(base, { borderColor: colour, backgroundColor: colour,
          pointStyle: SHAPES[index % SHAPES.length], pointRadius: 4, order: 2 });
    }
  }

  function extent(specs) {
    var xs = [];
    specs.forEach(function (s) { s.points.forEach(function (p) { xs.push(toMs(p[0])); }); });
    if (!xs.length) { return null; }
    var min = Math.min.apply(null, xs), max = Math.max.apply(null, xs);
    if (max - min < 7 * DAY) { min -= 3 * DAY; max += 3 * DAY; }
    return { min: min, max: max };
  }

  function draw(canvas, spec) {
    var range = extent(spec.datasets) || { min: Date.now() - 30 * DAY, max: Date.now() };
    var span = range.max - range.min;
    var step = span > 300 * DAY ? 56 * DAY : span > 120 * DAY ? 28 * DAY : span > 42 * DAY ? 14 * DAY : 7 * DAY;
    var pad = Math.round(span * 0.02);
    return new Chart(canvas, {
      type: "line",
      data: { datasets: spec.datasets.map(dataset) },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        parsing: true,
        interaction: { mode: "nearest", intersect: false, axis: "x" },
        scales: {
          x: {
            type: "linear", min: range.min - pad, max: range.max + pad,
            ticks: { stepSize: step, callback: function (v) { return fmt(v); }, color: INK, maxRotation: 0, autoSkipPadding: 12 },
            grid: { color: GRID }
          },
          y: {
            min: spec.y.min, max: spec.y.max,
            ticks: { stepSize: spec.y.step, color: INK },
            title: { display: true, text: spec.y.title, color: INK },
            grid: { color: GRID }
          }
        },
        plugins: {
          legend: { position: "bottom", labels: { usePointStyle: true, color: INK, boxWidth: 10, padding: 12 } },
          tooltip: {
            filter: function (item) { return spec.datasets[item.datasetIndex].style !== "threshold"; },
            callbacks: {
              title: function (items) { return items.length ? fmt(items[0].parsed.x) : ""; },
              label: function (item) { return item.dataset.label + ": " + item.parsed.y; }
            }
          }
        }
      }
    });
  }

  function init() {
    var node = document.getElementById("chart-data");
    if (!node || typeof Chart === "undefined") { return; }
    var specs = JSON.parse(node.textContent);
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    window.dashboardCharts = {};
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var key = canvas.getAttribute("data-chart");
      if (specs[key]) { window.dashboardCharts[key] = draw(canvas, specs[key]); }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
