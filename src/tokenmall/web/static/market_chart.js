// tokenmall market pages: draws a collection's daily K-line (candlesticks) with the vendored
// TradingView Lightweight Charts from the JSON block the server put next to the chart (no
// inline script: the Content-Security-Policy allows scripts from this origin only). The page
// also shows the same candles as a table, which is what works without JavaScript.
(function () {
  "use strict";
  var loading = false;
  // The library is loaded on the first page that has a chart (data-kline-lib names it), so
  // pages reached through hx-boost get it too.
  function load(box) {
    if (loading) return;
    loading = true;
    var script = document.createElement("script");
    script.src = box.dataset.klineLib;
    script.onload = function () { draw(document); };
    document.head.appendChild(script);
  }
  function draw(root) {
    root.querySelectorAll("[data-kline]").forEach(function (box) {
      if (typeof LightweightCharts === "undefined") { load(box); return; }
      if (box.dataset.drawn) return;
      var source = document.getElementById(box.id + "-data");
      if (!source) return;
      var candles = JSON.parse(source.textContent);
      box.dataset.drawn = "1";
      var chart = LightweightCharts.createChart(box, {
        autoSize: true,
        // The library's own logo injects a <style> element, which the Content-Security-Policy
        // refuses; the page names TradingView under the chart instead.
        layout: {
          background: { color: "#ffffff" }, textColor: "#344054", attributionLogo: false
        },
        grid: { vertLines: { color: "#f0f0f0" }, horzLines: { color: "#f0f0f0" } },
        timeScale: { borderColor: "#d0d5dd" },
        rightPriceScale: { borderColor: "#d0d5dd" }
      });
      // Chinese convention: red rises, green falls.
      var series = chart.addSeries(LightweightCharts.CandlestickSeries, {
        upColor: "#b4232a", borderUpColor: "#b4232a", wickUpColor: "#b4232a",
        downColor: "#16803c", borderDownColor: "#16803c", wickDownColor: "#16803c"
      });
      // Prices travel as decimal strings; the chart needs numbers only to place the candles.
      series.setData(candles.map(function (c) {
        return {
          time: c.day,
          open: Number(c.open), high: Number(c.high), low: Number(c.low), close: Number(c.close)
        };
      }));
      chart.timeScale().fitContent();
      document.documentElement.dataset.klineDrawn = "1";
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:load", function (event) { draw(event.target); });
})();
