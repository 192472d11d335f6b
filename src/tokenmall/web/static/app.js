// tokenmall pages: draws the charts whose data the server put in <script type="application/json">
// blocks (no inline script: the Content-Security-Policy allows scripts from this origin only).
(function () {
  "use strict";
  function draw(root) {
    if (typeof Chart === "undefined") return;
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) return;
      var source = document.getElementById(canvas.id + "-data");
      if (!source) return;
      var data = JSON.parse(source.textContent);
      canvas.dataset.drawn = "1";
      // Prices travel as decimal strings; Chart.js needs numbers only to place the dots.
      new Chart(canvas, {
        type: "line",
        data: {
          labels: data.labels,
          datasets: [{
            label: canvas.dataset.label,
            data: data.prices.map(Number),
            borderColor: "#b4232a",
            backgroundColor: "rgba(180, 35, 42, 0.08)",
            fill: true,
            tension: 0.2,
            pointRadius: data.prices.length > 40 ? 0 : 3
          }]
        },
        options: {
          animation: false,
          maintainAspectRatio: false,
          plugins: {
            legend: { display: false },
            tooltip: {
              callbacks: {
                label: function (ctx) { return "¥" + data.prices[ctx.dataIndex]; }
              }
            }
          },
          scales: { y: { ticks: { callback: function (v) { return "¥" + v; } } } }
        }
      });
      document.documentElement.dataset.chartsDrawn = "1";
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:load", function (event) { draw(event.target); });
})();
