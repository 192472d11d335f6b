/* Paying inside WeChat (JSAPI): hands the order page's signed getBrandWCPayRequest parameters
   to WeixinJSBridge, on the shopper's tap or at once after the payment was opened (#jsapi).
   Paid: the order page again (it asks WeChat Pay and shows the order paid). Cancelled, failed,
   or no bridge at all (not WeChat's browser, or it never became ready): the QR code form is
   shown instead. */
(function () {
  "use strict";
  var data = document.getElementById("wechat-pay-request");
  var box = document.getElementById("jsapi");
  if (!data || !box) {
    return;
  }
  var request = JSON.parse(data.textContent);
  var fallback = box.querySelector("[data-wechat-fallback]");
  var cancelled = box.querySelector("[data-wechat-cancelled]");
  var busy = false;

  function fallBack() {
    busy = false;
    if (fallback) {
      fallback.hidden = false;
    }
    if (cancelled) {
      cancelled.hidden = false;
    }
  }

  function invoke() {
    var bridge = window.WeixinJSBridge;
    if (!bridge || typeof bridge.invoke !== "function") {
      fallBack();
      return;
    }
    bridge.invoke("getBrandWCPayRequest", request, function (res) {
      if (res && res.err_msg === "get_brand_wcpay_request:ok") {
        window.location.replace(window.location.pathname + "?paid=1");
      } else {
        fallBack();
      }
    });
  }

  function whenReady(then) {
    if (busy) {
      return;
    }
    busy = true;
    if (window.WeixinJSBridge) {
      then();
      return;
    }
    var done = false;
    function once() {
      if (!done) {
        done = true;
        then();
      }
    }
    document.addEventListener("WeixinJSBridgeReady", once, false);
    window.setTimeout(once, 3000); /* no bridge by then: invoke() falls back */
  }

  var button = box.querySelector("[data-wechat-pay]");
  if (button) {
    button.addEventListener("click", function () {
      whenReady(invoke);
    });
  }
  if (window.location.hash === "#jsapi") {
    whenReady(invoke);
  }
})();
