// Strata chat widget: embed a conversation in any page with
//
//   <div id="chat"></div>
//   <script src="https://CHAT-NODE/widget.js" data-target="#chat"
//           data-token="TOKEN"                 (or data-token-url="/my/token", answering {"token": "..."})
//           data-nodes="https://n1,https://n2" (optional: the chat's nodes; default: those the
//                                               chat lists at /v1/nodes, else the script's own)
//   ></script>
//
// Plain JavaScript, no build step. It measures every node and connects to
// the fastest, reconnects with backoff and fails over to the next when
// its node dies, resumes from the last position it saw (the server sends
// what came after it: no gap; the widget drops what it already has: no
// duplicate) and the last change it saw (edits and hides since), keeps unsent messages in an outbox in localStorage and
// resends them with their client ids (a resend is never a second
// message), and renders text as text, never HTML.
(function () {
  "use strict";
  var script = document.currentScript;
  var cfg = script ? script.dataset : {};
  var origin = script ? new URL(script.src, location.href).origin : location.origin;
  var nodes = (cfg.nodes ? cfg.nodes.split(",") : [origin]).map(function (s) { return s.trim().replace(/\/$/, ""); });
  var target = document.querySelector(cfg.target || "#chat") || document.body;

  // The widget's DOM (ids kept for pages that style or test it).
  target.innerHTML = "";
  function el(tag, attrs) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }
  var status = el("p", { id: "status", "class": "meta" }), online = el("p", { id: "online", "class": "meta" });
  var log = el("div", { id: "log", "aria-live": "polite" }), typing = el("p", { id: "typing", "class": "meta" });
  var form = el("form", { id: "form" }), input = el("input", { id: "text", autocomplete: "off", maxlength: "4096", placeholder: "Say something" });
  var button = el("button"); button.textContent = "Send";
  form.appendChild(input); form.appendChild(button);
  [status, online, log, typing, form].forEach(function (e) { target.appendChild(e); });

  // last: the greatest position seen; changed: the greatest change cursor
  // (edits and hides since come on reconnect).
  var token = cfg.token || null, user = null, ws = null, last = "", changed = "", backoff = 500, ranked = nodes.slice(), next = 0;
  var rows = {}, versions = {}, typingTimer = null, lastTyping = 0;
  var outboxKey = null, outbox = {};

  function setStatus(s) { status.textContent = (user ? user + " — " : "") + s; }

  function claims(t) { // the token's payload, for names and the outbox key (not trusted: the server checks it)
    try { return JSON.parse(atob(t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))); } catch (e) { return {}; }
  }
  function loadOutbox() {
    var c = claims(token);
    user = c.sub || null;
    outboxKey = "strata-outbox:" + [c.aud, c.conv, c.sub].join("/");
    try { outbox = JSON.parse(localStorage.getItem(outboxKey) || "{}"); } catch (e) { outbox = {}; }
    Object.keys(outbox).forEach(function (id) { showQueued(outbox[id]); });
  }
  function saveOutbox() { try { localStorage.setItem(outboxKey, JSON.stringify(outbox)); } catch (e) { /* full or private mode */ } }

  function row(id) {
    var r = rows[id];
    if (!r) { r = el("div", { "class": "msg" }); rows[id] = r; log.appendChild(r); }
    return r;
  }
  function fill(r, name, text, cls) {
    r.textContent = "";
    var who = el("span", { "class": "who" }); who.textContent = name;
    var body = el("span", cls ? { "class": cls } : {}); body.textContent = text;
    r.appendChild(who); r.appendChild(body);
    log.scrollTop = log.scrollHeight;
  }
  function showQueued(req) { fill(row("out:" + req.client_id), user || "you", req.text, "queued"); }
  function render(m) {
    if (m.changed && greater(m.changed, changed || "0")) changed = m.changed;
    var v = versions[m.id];
    // Updates may arrive out of order: keep the highest version; on a
    // tie (an AP store merged concurrent changes) hidden wins.
    if (v && (m.version < v.version || (m.version === v.version && v.hidden && !m.hidden))) return;
    versions[m.id] = { version: m.version, hidden: m.hidden };
    var queued = rows["out:" + m.client_id];
    if (queued && m.user === user) { queued.remove(); delete rows["out:" + m.client_id]; }
    if (m.hidden && !m.text) fill(row(m.id), m.name, "(hidden by a moderator)", "hidden");
    else fill(row(m.id), m.name, m.text + (m.edited_at ? " (edited)" : ""));
  }
  function greater(a, b) { return a.length !== b.length ? a.length > b.length : a > b; } // decimal int64s

  // Rank the nodes by the time of a health check; unreachable ones last.
  function rank() {
    return Promise.all(nodes.map(function (n) {
      var t0 = performance.now();
      return fetch(n + "/healthz", { mode: "no-cors", cache: "no-store" })
        .then(function () { return { n: n, t: performance.now() - t0 }; }, function () { return { n: n, t: Infinity }; });
    })).then(function (rs) {
      ranked = rs.sort(function (a, b) { return a.t - b.t; }).map(function (r) { return r.n; });
      next = 0;
    });
  }

  function connect() {
    var node = ranked[next % ranked.length];
    var url = node.replace(/^http/, "ws") + "/v1/ws?token=" + encodeURIComponent(token) + (last ? "&after=" + last : "") +
      (changed ? "&changed=" + changed : "");
    ws = new WebSocket(url);
    var opened = false;
    ws.onopen = function () {
      opened = true; backoff = 500;
      setStatus("connected");
      Object.keys(outbox).forEach(function (id) { ws.send(JSON.stringify(outbox[id])); });
    };
    ws.onmessage = function (ev) {
      var f = JSON.parse(ev.data);
      if (f.type === "events") {
        f.events.forEach(function (e) {
          if (e.type === "presence") { online.textContent = "online: " + e.users.map(function (u) { return u.name; }).join(", "); return; }
          if (e.type === "typing") {
            if (e.user.id === user) return;
            typing.textContent = e.user.name + " is typing…";
            clearTimeout(typingTimer);
            typingTimer = setTimeout(function () { typing.textContent = ""; }, 3000);
            return;
          }
          if (!e.message) return;
          if (e.type === "update" && !rows[e.message.id]) { // a message older than the page shows
            if (greater(e.message.changed || "0", changed || "0")) changed = e.message.changed;
            return;
          }
          render(e.message);
          if (e.type === "message" && greater(e.message.pos, last || "0")) last = e.message.pos;
        });
      } else if (f.type === "ack") {
        delete outbox[f.client_id]; saveOutbox();
        if (f.message) render(f.message);
      } else if (f.type === "error") {
        if (f.status === 401) { getToken().then(function () { ws.close(); }); return; }
        if (f.status === 429 && outbox[f.client_id]) { // too fast: the outbox retries
          var req = outbox[f.client_id];
          setTimeout(function () { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(req)); }, 2000);
          return;
        }
        if (f.client_id && outbox[f.client_id]) {
          var r = rows["out:" + f.client_id];
          if (r) fill(r, user || "you", outbox[f.client_id].text + " — not sent: " + f.error, "failed");
          delete outbox[f.client_id]; saveOutbox();
        }
        setStatus("error: " + f.error);
      }
    };
    ws.onclose = function () {
      // Fail over: the next node in rank, then measure again once round.
      next++;
      setStatus(Object.keys(outbox).length ? "offline; messages queued" : "reconnecting…");
      var again = next % ranked.length === 0 ? rank() : Promise.resolve();
      setTimeout(function () { again.then(connect); }, opened ? 0 : backoff);
      backoff = Math.min(backoff * 2, 10000);
    };
  }

  input.addEventListener("input", function () {
    var now = Date.now();
    if (ws && ws.readyState === WebSocket.OPEN && now - lastTyping > 2000) {
      lastTyping = now;
      ws.send(JSON.stringify({ type: "typing" }));
    }
  });
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value;
    if (!text.trim()) return;
    var id = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()).replace(/[^A-Za-z0-9-]/g, "");
    var req = { type: "send", client_id: id, text: text };
    outbox[id] = req; saveOutbox(); showQueued(req);
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(req));
    input.value = "";
  });

  function getToken() {
    if (!cfg.tokenUrl) return Promise.resolve();
    return fetch(cfg.tokenUrl, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (j) {
        if (!j.token) { setStatus(j.error || "no token"); throw new Error("no token"); }
        token = j.token;
      });
  }

  // The page's list of nodes, else the one the chat configures (-nodes),
  // else the node the script came from.
  function discover() {
    if (cfg.nodes) return Promise.resolve();
    return fetch(origin + "/v1/nodes", { cache: "no-store" }).then(function (r) { return r.json(); }).then(function (j) {
      if (j.nodes && j.nodes.length) { nodes = j.nodes; ranked = nodes.slice(); }
    }, function () { /* keep the script's node */ });
  }

  setStatus("connecting…");
  getToken().then(function () { loadOutbox(); return discover(); }).then(rank).then(connect);
})();
