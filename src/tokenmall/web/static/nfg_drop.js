// The drop's countdowns: tick the server-rendered seconds; at zero, reload (an opening drop
// shows its buy button). The page works without this script: a reload shows the same.
(function () {
  "use strict";
  function start() {
    var items = document.querySelectorAll("[data-countdown]");
    var waiting = Array.prototype.some.call(items, function (el) {
      return parseInt(el.getAttribute("data-seconds"), 10) > 0;
    });
    if (!waiting) return;
    var began = Date.now();
    var timer = setInterval(function () {
      var passed = Math.floor((Date.now() - began) / 1000);
      var done = true;
      items.forEach(function (el) {
        var left = Math.max(parseInt(el.getAttribute("data-seconds"), 10) - passed, 0);
        el.textContent = String(left);
        if (left > 0) done = false;
      });
      if (done) {
        clearInterval(timer);
        window.location.reload();
      }
    }, 1000);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
