/* Live screens: one Socket.IO connection, the `state` snapshot with its seq, and small renderers per page.
   The server computes every number and rule; this file only shows what it sent. */
(function () {
  "use strict";
  // Loaded with `async` from the page's head (the delegate phone's bundle), this file may run before the page below
  // is parsed: the connection starts at once, so that its handshake overlaps the rest of the page, and what needs
  // the page (`start`) waits for it, as do the connection's events (`whenReady`). Loaded at the end of the body
  // (the other screens), it starts at once.
  // A page sent in answer to a join link (/j/<token>: web/join.py) names its own address: it replaces the link's in
  // the address bar and the history at once, so that the card's token does not stay there.
  var own = document.querySelector('meta[name="page-url"]');
  if (own && window.history && history.replaceState && location.pathname !== own.content) {
    history.replaceState(history.state, "", own.content);
  }
  var I, state, me, page, ready = false, waiting = [];
  var listeners = {};
  function whenReady(fn) {
    return function () {
      var args = arguments;
      if (ready) fn.apply(null, args); else waiting.push(function () { fn.apply(null, args); });
    };
  }

  function fmt(s, o) { return s.replace(/\{(\w+)\}/g, function (_, k) { return o[k]; }); }
  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function bind(name) { return $all('[data-bind="' + name + '"]'); }
  function setText(name, text) { bind(name).forEach(function (el) { el.textContent = text; }); }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // After a drop, try again at a random moment within 0-1.5 s, then within 0-2 s, then every 0-2 s (socket.io-client
  // doubles the 0.75 s delay, adds or takes up to 100 % of it at random, then caps it at 2 s): a restarted server has
  // every phone back within a few seconds (issue #18: ≤ 5 s for 500), and a room's phones falling back on the other
  // processes behind the front arrive spread over a second and a half, not in one burst (issue #20). A try against
  // a box still starting costs nothing: it is refused by the kernel, or, once the new server has bound its port
  // (first thing at start), queued until it serves (web/serving.py).
  // `auth.digest`: the snapshot this page shows (the page's own, or the last full one): the server sends it again
  // on connect only when it has changed (services/snapshot.digest), not 5 kB more on a slow link for nothing.
  var socket = io({ transports: ["websocket", "polling"], reconnectionDelay: 750, reconnectionDelayMax: 2000,
                    randomizationFactor: 1,
                    auth: function (cb) { cb(state && state.digest ? { digest: state.digest } : {}); } });

  function applySeq(seq) {
    // Older than what we show: drop. A gap: we missed something, ask for a full snapshot.
    if (typeof seq !== "number") return true;
    if (seq < state.seq) return false;
    if (seq > state.seq + 1) socket.emit("sync");
    state.seq = seq;
    return true;
  }

  // The server sends a full `state` on every (re)connect, so nothing needs asking for here.
  socket.on("connect", whenReady(function () { connection(true); loadLater(); }));
  socket.on("disconnect", whenReady(function () { serverWaiting = false; connection(false); }));
  var online = false, everOnline = false, serverWaiting = false, wasLive = false;
  // The process this screen is connected to cannot reach its database or the other processes (realtime/links.py):
  // it answers nothing but "waiting", so the screen says so with the offline banner and greys out what cannot be
  // sent. When it is back, the screen asks for a fresh snapshot by itself (spread over a second or two, not 500
  // phones at once), since what was said meanwhile may not have reached it.
  socket.on("waiting", whenReady(function (p) {
    var now = !!(p && p.waiting);
    if (now === serverWaiting) return;
    serverWaiting = now;
    connection(online);
    if (!now) setTimeout(function () { if (online && !serverWaiting) socket.emit("sync"); }, Math.random() * 1500);
  }));
  socket.on("connect_error", whenReady(function (err) {
    // A revoked card, or a session that ended (logout, revocation, a day unused), is refused with its own code:
    // say so and stop, instead of "reconnecting…" forever.
    var code = err && err.data && err.data.code;
    if (code === "auth.revoked" || code === "auth.session_ended") cardRevoked(err.message);
    else connection(false);
  }));
  // Sent to this card's open screens when the clerk revokes it, just before the server hangs up.
  socket.on("revoked", whenReady(function (p) { cardRevoked(p && p.message); }));
  socket.on("state", whenReady(function (s) {
    if (s.seq < state.seq) return;
    // A role room's snapshot has no `me`: keep ours. One sent to this card alone (on connect, after `sync`, or
    // when presenting was handed to or taken from us) carries our own part, which replaces it.
    if (s.me) me = s.me;
    s.me = me; state = s; render(); emitLocal("state", state);
  }));
  socket.on("attendance", whenReady(function (p) {
    if (!applySeq(p.seq)) return;
    state.attendance = p.attendance;
    if (p.attendees) state.attendees = p.attendees;
    render();
  }));

  var revoked = false;

  function cardRevoked(message) {
    if (revoked) return;
    revoked = true;
    socket.io.reconnection(false);
    socket.disconnect();
    var text = message || I.revoked;
    bind("connection").forEach(function (e) { e.textContent = text; e.classList.add("offline"); });
    var notice = el("p", { "class": "flash flash-error", role: "alert", "data-revoked": "" }, text);
    var main = $("main") || document.body;
    main.insertBefore(notice, main.firstChild);
    document.body.setAttribute("data-revoked", "");
  }

  function connection(ok) {
    if (revoked) return;
    var live = ok && !serverWaiting;
    bind("connection").forEach(function (e) {
      e.textContent = live ? I.online : ok ? I.waiting : I.offline;
      e.classList.toggle("offline", !live);
    });
    online = ok;
    if (ok) everOnline = true;
    // A drop after the page was live shows at once; a page still making its first connection gets a moment.
    if (ok || everOnline) offlineBanner(!live);
    document.body.classList.toggle("is-offline", !live);
    document.body.classList.toggle("is-waiting", ok && serverWaiting);
    if (wasLive !== live) emitLocal("connection", live);
    wasLive = live;
  }

  // A sticky banner across the top while this screen cannot reach the server: whatever cannot be sent is greyed
  // out by the panels (they ask Live.online()), so nothing looks live that is not.
  var banner = null;
  function offlineBanner(show) {
    // The projector has its own small corner line: the room is not told about a hotspot hiccup in red.
    if (document.body.classList.contains("kiosk")) return;
    if (!banner) {
      banner = el("div", { "class": "offline-banner", role: "alert", "data-offline-banner": "", hidden: "" });
      banner.appendChild(el("strong", {}, I.offline_banner));
      banner.appendChild(el("span", {}, I.offline_banner_hint));
      document.body.insertBefore(banner, document.body.firstChild);
    }
    // Connected but the server waits for its database or the other processes: the same banner, its own words.
    var waitingNow = show && online && serverWaiting;
    banner.firstChild.textContent = waitingNow ? I.waiting_banner : I.offline_banner;
    banner.lastChild.textContent = waitingNow ? I.waiting_banner_hint : I.offline_banner_hint;
    if (waitingNow) banner.setAttribute("data-waiting", ""); else banner.removeAttribute("data-waiting");
    banner.hidden = !show;
  }

  // The takeover sheet (delegate phone): a vote that opens, the floor given to this delegate. One sheet at a time;
  // a newer call replaces it. `opts`: key, kind, title, text, go (button label), target (element id to scroll to).
  var seenTakeover = {}, takeoverKey = null;
  function takeover(opts) {
    var box = $("#takeover");
    if (!box || seenTakeover[opts.key] === "done") return;
    if (takeoverKey === opts.key && !box.hidden) return;
    var fresh = !seenTakeover[opts.key];
    seenTakeover[opts.key] = "shown";
    takeoverKey = opts.key;
    $("#takeover-kind").textContent = opts.kind;
    $("#takeover-title").textContent = opts.title;
    $("#takeover-text").textContent = opts.text || "";
    var go = $("#takeover-go");
    go.textContent = opts.go;
    go.setAttribute("data-target", opts.target || "");
    box.setAttribute("data-takeover", opts.key);
    box.hidden = false;
    document.body.classList.add("has-takeover");
    go.focus();
    if (fresh && navigator.vibrate) { try { navigator.vibrate([300, 150, 300]); } catch (e) { /* not allowed yet */ } }
  }
  function dismissTakeover(key) {
    var box = $("#takeover");
    if (!box || !takeoverKey) return;
    // A key ending in "*" is a prefix: "poll-*" lets a vote's sheet go, never the floor's.
    if (key && (key.charAt(key.length - 1) === "*" ? takeoverKey.indexOf(key.slice(0, -1)) !== 0 : takeoverKey !== key)) return;
    if (takeoverKey) seenTakeover[takeoverKey] = "done";
    takeoverKey = null;
    box.hidden = true;
    document.body.classList.remove("has-takeover");
  }
  function jumpTo(id) {
    var t = id && document.getElementById(id);
    if (t && !t.hidden) t.scrollIntoView({ block: "start" });
  }
  document.addEventListener("click", function (ev) {
    var go = ev.target.closest("#takeover-go");
    if (go) { var id = go.getAttribute("data-target"); dismissTakeover(); jumpTo(id); return; }
    var j = ev.target.closest("[data-jump]");
    if (j) jumpTo(j.getAttribute("data-jump"));
  });

  function currentTitle() {
    var cur = (state.agenda || []).filter(function (it) { return it.id === state.current_item_id; })[0];
    return cur ? cur.position + ". " + cur.title : I.no_current;
  }

  function attendanceLine() {
    var a = state.attendance;
    var line = fmt(I.present_line, a) + " — " + fmt(a.quorate ? I.quorate : I.not_quorate, a);
    bind("attendance_line").forEach(function (e) {
      e.textContent = line;
      e.classList.toggle("quorate", a.quorate);
      e.classList.toggle("not-quorate", !a.quorate);
    });
  }

  function renderAgenda() {
    bind("agenda").forEach(function (ol) {
      ol.innerHTML = "";
      state.agenda.forEach(function (it) {
        var li = el("li", { "data-item": it.id }, it.title);
        if (it.id === state.current_item_id) { li.className = "current"; li.setAttribute("aria-current", "step"); }
        ol.appendChild(li);
      });
    });
  }

  function statusText(a) {
    var t = I["status_" + a.status] || a.status;
    if (a.status === "present" && a.late) t += " (" + I.late + ")";
    if (a.reason) t += " — " + a.reason;
    return t;
  }

  function renderAttendees(name, withButtons) {
    bind(name).forEach(function (table) {
      var tbody = $("tbody", table);
      tbody.innerHTML = "";
      (state.attendees || []).forEach(function (a) {
        if (a.role === "guest" && !withButtons) return;
        var tr = el("tr", { "data-participant": a.id });
        tr.appendChild(el("td", {}, String(a.position)));
        var nameTd = el("td", {}, a.name);
        if (a.role !== "delegate") nameTd.appendChild(el("small", {}, " · " + (I["role_" + a.role] || a.role)));
        tr.appendChild(nameTd);
        tr.appendChild(el("td", { "class": "status-" + a.status, "data-status": a.status }, statusText(a)));
        if (withButtons) {
          var td = el("td", { "class": "nowrap" });
          ["present", "late", "absent", "left"].forEach(function (st) {
            var b = el("button", { "class": "button small", "data-mark": st, "data-pid": a.id }, I["mark_" + st]);
            td.appendChild(b);
          });
          tr.appendChild(td);
        }
        tbody.appendChild(tr);
      });
    });
  }

  function renderAgendaControl() {
    bind("agenda_control").forEach(function (ol) {
      ol.innerHTML = "";
      state.agenda.forEach(function (it) {
        var li = el("li", { "data-item": it.id });
        li.appendChild(el("span", {}, it.title));
        if (it.id === state.current_item_id) {
          li.className = "current";
          li.appendChild(el("strong", {}, I.current));
        } else {
          li.appendChild(el("button", { "class": "button small", "data-goto": it.id }, I.go_to));
        }
        ol.appendChild(li);
      });
    });
    setText("meeting_status", I["meeting_status_" + state.meeting.status] || state.meeting.status);
    $all("[data-show-when]").forEach(function (b) {
      b.hidden = b.dataset.showWhen.split(",").indexOf(state.meeting.status) < 0;
    });
  }

  // The projector's idle screen says where the sitting stands: not opened yet, the item under way, or ended.
  function renderKioskStatus() {
    var status = state.meeting.status;
    setText("kiosk_status", status === "ended" ? I.kiosk_ended : status === "draft" ? I.kiosk_not_opened : I.current);
    document.body.classList.toggle("kiosk-ended", status === "ended");
    bind("current_item").forEach(function (e) { e.hidden = status !== "in_progress"; });
  }

  function render() {
    setText("session_title", state.meeting.session_title);
    setText("full_title", state.meeting.full_title);
    setText("me_name", me.name);
    setText("me_role", I["role_" + me.role] || "");
    setText("current_item", currentTitle());
    setText("meeting_status", I["meeting_status_" + state.meeting.status] || state.meeting.status);
    // "Đang diễn ra" only while the sitting is open: before, it has not begun; after, it is over.
    setText("current_heading", I["current_heading_" + state.meeting.status] || I.current);
    document.body.setAttribute("data-meeting-status", state.meeting.status);
    attendanceLine();
    renderAgenda();
    if (page === "chair") { renderAgendaControl(); renderAttendees("attendees", false); }
    if (page === "clerk") { renderAttendees("attendance_manage", true); }
    if (page === "kiosk") renderKioskStatus();
    emitLocal("render", state);
  }

  function ack(res) {
    if (res && res.ok === false) say(res.error);
  }
  function say(text) { if (window.Dialog) window.Dialog.tell(text); else alert(text); }

  // Every action the page sends goes through here: `done` always gets an answer, never waits forever. The
  // server answers every event, a fault of its own too ({ok: false, code: "server.error", error}); no answer within
  // `waitMs` (a connection lost on the way) is answered here with a message of its own. A button given as
  // `button` is marked busy (aria-busy, disabled) until the answer, and carries a failure's message (data-error,
  // title) besides what `done` shows (by default an alert).
  function send(name, data, done, button, waitMs) {
    if (revoked) { (done || ack)({ ok: false, code: "auth.revoked", error: I.revoked }); return; }
    if (!online) { (done || ack)({ ok: false, code: "offline", error: I.offline_action }); return; }
    if (button) { button.disabled = true; button.setAttribute("aria-busy", "true"); button.removeAttribute("data-error"); }
    socket.timeout(waitMs || 15000).emit(name, data === undefined ? {} : data, function (err, res) {
      if (err || !res) res = { ok: false, code: "no_answer", error: I.no_answer };
      if (button) {
        button.disabled = false; button.removeAttribute("aria-busy");
        if (res.ok === false) { button.setAttribute("data-error", res.error); button.title = res.error; }
      }
      if (res.code === "auth.revoked") { cardRevoked(I.revoked); return; }
      (done || ack)(res);
    });
  }

  document.addEventListener("click", function (ev) {
    var t = ev.target.closest("button"); if (!t) return;
    if (t.dataset.goto) { gotoItem(Number(t.dataset.goto), t); }
    else if (t.dataset.action === "status") { askStatus(t.dataset.status, t); }
    else if (t.dataset.mark) { mark(Number(t.dataset.pid), t.dataset.mark); }
  });

  // The chair's agenda: moving on takes the presented document off the screens (the server's rule), unless the
  // box "keep the document on the projector" beside the agenda is ticked; it is unticked again after each move.
  function gotoItem(itemId, button) {
    var keep = $("[data-keep-presentation]");
    var data = { item_id: itemId };
    if (keep && keep.checked) data.keep_presentation = true;
    send("agenda.set_current", data, function (res) {
      if (res && res.ok && keep) keep.checked = false;
      ack(res);
    }, button);
  }

  function askStatus(status, button) {
    if (status !== "ended") { setStatus(status, false, button); return; }
    window.Dialog.confirm(I.end_question, function (yes) { if (yes) setStatus(status, false, button); },
      { ok: I.end_ok, danger: true });
  }

  function setStatus(status, belowQuorumOk, button) {
    send("meeting.set_status", { status: status, below_quorum_ok: belowQuorumOk }, function (res) {
      // Too few delegates present: the server says how many; the chair opens anyway only if they confirm.
      if (res && res.code === "meeting.below_quorum") {
        window.Dialog.confirm(res.error, function (yes) { if (yes) setStatus(status, true, button); },
          { ok: I.open_anyway });
        return;
      }
      ack(res);
    }, button);
  }

  function mark(pid, status) {
    if (status === "absent") {
      window.Dialog.prompt(I.reason_prompt, function (reason) { if (reason) sendMark(pid, status, reason); },
        { required: true, ok: I.record, maxlength: 500 });
    } else if (status === "left") {
      window.Dialog.prompt(I.left_prompt, function (reason) { if (reason !== null) sendMark(pid, status, reason); },
        { ok: I.record, maxlength: 500 });
    } else sendMark(pid, status, "");
  }

  function sendMark(pid, status, reason) {
    var fields = { status: status, reason: reason };
    if (status === "late") { fields.status = "present"; fields.late = "1"; }
    else if (status === "present") { fields.late = "0"; }
    var body = new URLSearchParams(fields);
    fetch("/clerk/attendance/" + pid, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": $('meta[name="csrf-token"]').content, "Accept": "application/json" },
      body: body
    }).then(function (r) { return r.json(); }).then(function (j) { if (!j.attendance) say(j.message); });
  }

  function emitLocal(name, data) { (listeners[name] || []).forEach(function (fn) { fn(data); }); }
  // The delegate phone's other panels (ballot, speakers, documents, questions, dialogs) come in a second script
  // (body[data-later], web/statics.py BUNDLES), fetched once the connection is up so that the first screen has the
  // slow link to itself, or after 2 s without a connection. Their strings come beside it (body[data-later-strings],
  // web/catalogs.py): that small script runs first and writes them into the page, then the bundle runs; the bundle
  // is asked for at the same time (a preload) where the browser can, so that the two do not wait for each other.
  // An event for those panels that comes before they are there is not lost: the page asks for a fresh snapshot
  // once they are.
  var later = null, laterStrings = null, laterState = "done", missed = false;
  function addScript(src, loaded, failed) {
    var s = document.createElement("script");
    s.src = src;
    s.onload = loaded;
    s.onerror = function () { s.parentNode.removeChild(s); failed(); };
    document.body.appendChild(s);
  }
  function preload(src) {
    var l = document.createElement("link");
    if (!l.relList || !l.relList.supports || !l.relList.supports("preload")) return;
    l.rel = "preload";
    l.as = "script";
    l.href = src;
    document.head.appendChild(l);
  }
  function loadLater() {
    if (laterState !== "waiting") return;
    laterState = "loading";
    var retry = function () { laterState = "waiting"; setTimeout(loadLater, 2000); };
    var bundle = function () {
      addScript(later, function () {
        laterState = "done";
        if (missed && online) socket.emit("sync");
        missed = false;
      }, retry);
    };
    if (!laterStrings || document.getElementById("i18n-voting")) { bundle(); return; }
    preload(later);
    addScript(laterStrings, bundle, retry);
  }
  socket.onAny(function (name) { if (laterState !== "done" && name !== "state" && name !== "attendance") missed = true; });

  function start() {
    if (ready) return;
    I = JSON.parse(document.getElementById("i18n").textContent);
    state = JSON.parse(document.getElementById("initial-state").textContent);
    me = state.me;
    page = document.body.dataset.page;
    later = document.body.getAttribute("data-later");
    laterStrings = document.body.getAttribute("data-later-strings");
    if (later) { laterState = "waiting"; setTimeout(loadLater, 2000); }
    window.Live = {
      socket: socket, I: I, el: el, fmt: fmt, send: send, ack: ack,
      state: function () { return state; },
      on: function (name, fn) { (listeners[name] = listeners[name] || []).push(fn); },
      applySeq: applySeq,
      online: function () { return online && !serverWaiting && !revoked; },
      takeover: takeover, dismissTakeover: dismissTakeover
    };
    ready = true;
    connection(online);
    render();
    setTimeout(function () { if (!online && !revoked) offlineBanner(true); }, 3000);
    var queued = waiting; waiting = [];
    queued.forEach(function (fn) { fn(); });
  }
  var early = document.currentScript && document.currentScript.async;
  if (early && document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
