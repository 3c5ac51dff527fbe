// The demo page: a name from ?user= (or a random guest), the widget with
// a token from the demo endpoint, and a service worker that keeps the
// page's shell for when the network is gone (the widget then queues).
(function () {
  "use strict";
  var user = new URLSearchParams(location.search).get("user") || ("guest" + Math.floor(Math.random() * 10000));
  var s = document.createElement("script");
  s.src = "/widget.js";
  s.dataset.target = "#chat";
  s.dataset.tokenUrl = "/demo/token?user=" + encodeURIComponent(user);
  document.body.appendChild(s);
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/demo/sw.js", { scope: "/demo" }).catch(function () {});
})();
