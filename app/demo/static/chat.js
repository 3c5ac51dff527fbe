// The demo page's client: a token from the demo endpoint, a WebSocket
// that catches up from the last position it saw and reconnects with
// backoff, sends with client ids (a retried send is one message), and
// text rendered as text, never HTML.
(function () {
  "use strict";
  var params = new URLSearchParams(location.search);
  var user = params.get("user") || ("guest" + Math.floor(Math.random() * 10000));
  var log = document.getElementById("log"), status = document.getElementById("status");
  var form = document.getElementById("form"), input = document.getElementById("text");
  var token = null, ws = null, last = "", backoff = 500, pending = {};
  var rows = {}; // message id → element
  var online = document.getElementById("online"), typing = document.getElementById("typing");
  var typingTimer = null, lastTyping = 0;

  function setStatus(s) { status.textContent = user + " — " + s; }

  var versions = {}; // message id → version shown

  function render(m) {
    var v = versions[m.id];
    // Updates may arrive out of order: keep the highest version, and on
    // a tie (an AP store merged concurrent changes) let hidden win.
    if (v !== undefined && (m.version < v.version || (m.version === v.version && v.hidden && !m.hidden))) return;
    versions[m.id] = { version: m.version, hidden: m.hidden };
    var row = rows[m.id];
    if (!row) {
      row = document.createElement("div");
      row.className = "msg";
      rows[m.id] = row;
      log.appendChild(row);
    }
    row.textContent = "";
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = m.name;
    var text = document.createElement("span");
    if (m.hidden && !m.text) { text.className = "hidden"; text.textContent = "(hidden by a moderator)"; }
    else { text.textContent = m.text + (m.edited_at ? " (edited)" : ""); }
    row.appendChild(who);
    row.appendChild(text);
    log.scrollTop = log.scrollHeight;
  }

  function greater(a, b) { // positions are decimal strings of int64s
    return a.length !== b.length ? a.length > b.length : a > b;
  }

  function connect() {
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    var url = proto + "//" + location.host + "/v1/ws?token=" + encodeURIComponent(token) + (last ? "&after=" + last : "");
    ws = new WebSocket(url);
    ws.onopen = function () {
      backoff = 500;
      setStatus("connected");
      Object.keys(pending).forEach(function (id) { ws.send(JSON.stringify(pending[id])); });
    };
    ws.onmessage = function (ev) {
      var f = JSON.parse(ev.data);
      if (f.type === "events") {
        f.events.forEach(function (e) {
          if (e.type === "presence") {
            online.textContent = "online: " + e.users.map(function (u) { return u.name; }).join(", ");
            return;
          }
          if (e.type === "typing") {
            if (e.user.id === user) return;
            typing.textContent = e.user.name + " is typing…";
            clearTimeout(typingTimer);
            typingTimer = setTimeout(function () { typing.textContent = ""; }, 3000);
            return;
          }
          if (!e.message) return;
          render(e.message);
          if (e.type === "message" && greater(e.message.pos, last || "0")) last = e.message.pos;
        });
      } else if (f.type === "ack") {
        delete pending[f.client_id];
      } else if (f.type === "error") {
        if (f.status === 401) { // the token expired: get another, reconnect
          getToken().then(function () { ws.close(); });
          return;
        }
        if (f.status === 429 && pending[f.client_id]) { // too fast: the outbox retries
          var req = pending[f.client_id];
          setTimeout(function () { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(req)); }, 2000);
          return;
        }
        delete pending[f.client_id];
        setStatus("error: " + f.error);
      }
    };
    ws.onclose = function () {
      setStatus("disconnected; reconnecting…");
      setTimeout(connect, backoff);
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
    pending[id] = req;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(req));
    input.value = "";
  });

  function getToken() {
    return fetch("/demo/token?user=" + encodeURIComponent(user))
      .then(function (r) { return r.json(); })
      .then(function (j) {
        if (!j.token) { setStatus(j.error || "no token"); throw new Error("no token"); }
        token = j.token;
      });
  }

  getToken().then(connect);
})();
