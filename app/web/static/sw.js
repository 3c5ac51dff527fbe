// The demo page's service worker: the shell (page, scripts, manifest) is
// served from the cache when the network fails, so a spotty connection
// shows the chat with its messages queued instead of an error page.
var SHELL = "strata-chat-shell-v1";
var FILES = ["/demo", "/demo/page.js", "/widget.js", "/demo/manifest.webmanifest"];
self.addEventListener("install", function (e) {
  e.waitUntil(caches.open(SHELL).then(function (c) { return c.addAll(FILES); }));
});
self.addEventListener("fetch", function (e) {
  var url = new URL(e.request.url);
  if (e.request.method !== "GET" || FILES.indexOf(url.pathname) < 0) return;
  e.respondWith(fetch(e.request).then(function (r) {
    var copy = r.clone();
    caches.open(SHELL).then(function (c) { c.put(e.request, copy); });
    return r;
  }, function () { return caches.match(e.request, { ignoreSearch: true }); }));
});
