/* Requests to speak on the phone, the chair's console and the projector band.
   Shows what the server sent in `speakers` (and in `state.speakers`); the only arithmetic is the countdown,
   counted against the server's clock (server_now_ms) so a phone with a wrong clock still shows the right time. */
(function () {
  "use strict";
  if (!window.Live) return;
  var Live = window.Live;
  var S = JSON.parse(document.getElementById("i18n-speakers").textContent);
  var page = document.body.dataset.page;
  var me = Live.state().me || {};
  var perms = me.permissions || [];
  var canRequest = perms.indexOf("speak.can_request") >= 0;
  var canManage = perms.indexOf("speak.can_manage") >= 0;

  // The payload, the server clock's offset, the countdown and one action at a time: panel.js, shared with questions.js.
  var P = window.LivePanel(render, function (d) { return d.speaking; });
  var send = P.send;

  function el(tag, attrs, text) { return Live.el(tag, attrs, text); }

  function mine(list) {
    return (list || []).filter(function (q) { return q.participant_id === me.participant_id; })[0] || null;
  }

  function countdownNode(cls) {
    var sec = P.remaining();
    var span = el("span", { "class": cls + (sec !== null && sec <= 0 ? " over" : ""), "data-speak": "countdown" },
      sec === null ? "" : P.clock(sec));
    return span;
  }

  function speakingLine(root) {
    var sp = P.data.speaking;
    var p = el("p", { "class": "speak-now" });
    if (!sp) { p.textContent = S.nobody_speaking; p.classList.add("muted"); root.appendChild(p); return; }
    p.appendChild(el("span", { "class": "speak-label" }, S.speaking + ": "));
    p.appendChild(el("strong", { "data-speak": "speaker" }, sp.name));
    if (sp.title) p.appendChild(el("small", {}, " · " + sp.title));
    p.appendChild(document.createTextNode(" "));
    p.appendChild(countdownNode("speak-clock"));
    root.appendChild(p);
  }

  function renderDelegate(panel) {
    panel.hidden = false;
    panel.innerHTML = "";
    panel.appendChild(el("h2", {}, S.heading));
    // A closed sitting: nobody asks for the floor any more (the server refuses it too, speak.meeting_ended).
    if ((Live.state().meeting || {}).status === "ended") {
      panel.appendChild(el("p", { "class": "speak-status big", "data-speak": "status" }, S.meeting_ended));
      return;
    }
    speakingLine(panel);
    if (!canRequest) return;
    var sp = P.data.speaking;
    var meSpeaking = sp && sp.participant_id === me.participant_id;
    var queued = mine(P.data.queue);
    var status = el("p", { "class": "speak-status big", "data-speak": "status", "aria-live": "polite" });
    if (meSpeaking) {
      status.textContent = S.you_speak;
    } else if (queued) {
      status.textContent = Live.fmt(S.your_place, { place: queued.place });
    } else if (P.data.agenda_item_id === null) {
      status.textContent = S.no_item;
    } else if (P.data.queue.length) {
      status.textContent = Live.fmt(S.waiting_count, { count: P.data.queue.length });
    }
    panel.appendChild(status);
    if (!meSpeaking) {
      var b = el("button", { "class": "button speak-button" + (queued ? "" : " primary"), "type": "button",
        "data-speak-action": queued ? "withdraw" : "request" }, queued ? S.withdraw : S.request);
      if (P.data.agenda_item_id === null || !Live.online()) b.disabled = true;
      panel.appendChild(b);
    }
    if (P.message) panel.appendChild(el("p", { "class": "speak-error", "role": "alert" }, P.message));
  }

  function renderChair(panel) {
    panel.hidden = false;
    panel.innerHTML = "";
    panel.appendChild(el("h2", {}, S.heading_chair));
    var sp = P.data.speaking;
    var box = el("div", { "class": "speak-current" });
    speakingLine(box);
    if (sp && canManage) {
      var row = el("p", { "class": "buttons" });
      row.appendChild(el("button", { "class": "button primary", "type": "button", "data-speak-action": "end" }, S.end));
      row.appendChild(el("button", { "class": "button", "type": "button", "data-speak-action": "more",
        "data-limit": String(sp.limit_s + 60) }, S.add_minute));
      box.appendChild(row);
    }
    panel.appendChild(box);

    panel.appendChild(el("h3", {}, S.queue));
    if (P.data.agenda_item_id === null) {
      panel.appendChild(el("p", { "class": "hint" }, S.no_item));
    } else if (!P.data.queue.length) {
      panel.appendChild(el("p", { "class": "hint" }, S.nobody_waiting));
    } else {
      var ol = el("ol", { "class": "speak-queue", "data-speak": "queue" });
      P.data.queue.forEach(function (q) {
        var li = el("li", { "data-request": q.request_id });
        var who = el("span", { "class": "speak-who" });
        if (q.kind && S["kind_" + q.kind]) who.appendChild(el("span", { "class": "speak-kind" }, S["kind_" + q.kind]));
        who.appendChild(document.createTextNode(q.name));
        if (q.title) who.appendChild(el("small", {}, " · " + q.title));
        li.appendChild(who);
        if (canManage) {
          var btns = el("span", { "class": "nowrap" });
          btns.appendChild(el("button", { "class": "button small primary", "type": "button",
            "data-speak-action": "give", "data-request": q.request_id }, S.give));
          btns.appendChild(el("button", { "class": "button small", "type": "button",
            "data-speak-action": "take-off", "data-request": q.request_id }, S.take_off));
          li.appendChild(btns);
        }
        ol.appendChild(li);
      });
      panel.appendChild(ol);
    }
    if (canManage) {
      var label = el("label", { "class": "speak-time" }, S.speaking_time + " ");
      var select = el("select", { "data-speak-action": "default-time" });
      var options = [60, 120, 180, 300, 420, 600, 900];
      if (options.indexOf(P.data.default_limit_s) < 0) options.push(P.data.default_limit_s);
      options.sort(function (x, y) { return x - y; }).forEach(function (secs) {
        var o = el("option", { "value": String(secs) }, Live.fmt(S.minutes, { n: String(secs / 60).replace(".", ",") }));
        if (secs === P.data.default_limit_s) o.selected = true;
        select.appendChild(o);
      });
      label.appendChild(select);
      panel.appendChild(label);
    }
    if (P.message) panel.appendChild(el("p", { "class": "speak-error", "role": "alert" }, P.message));
  }

  function renderKiosk() {
    var band = document.getElementById("kiosk-speakers");
    if (!band) return;
    var sp = P.data.speaking, nx = P.data.next;
    band.hidden = !sp && !nx;
    band.classList.toggle("has-speaker", !!sp);
    band.querySelector('[data-speak="name"]').textContent = sp ? sp.name : "";
    band.querySelector('[data-speak="title"]').textContent = sp && sp.title ? sp.title : "";
    var clockEl = band.querySelector('[data-speak="clock"]');
    var sec = P.remaining();
    clockEl.textContent = sec === null ? "" : (sec <= 0 ? S.over_time + " " + P.clock(sec) : P.clock(sec));
    clockEl.classList.toggle("over", sec !== null && sec <= 0);
    band.querySelector('[data-speak="next"]').textContent = nx ? Live.fmt(S.next, { name: nx.name }) +
      (nx.kind && S["kind_" + nx.kind] ? " (" + S["kind_" + nx.kind] + ")" : "") : "";
    var label = band.querySelector(".speak-band-label");
    if (label) label.textContent = sp && sp.kind && S["kind_" + sp.kind] ? S["kind_" + sp.kind] : S.speaking;
  }

  // The chair gave this delegate the floor: the phone takes over the screen once per speech, with vibration.
  function floorAlert() {
    var sp = P.data && P.data.speaking;
    if (page !== "delegate") return;
    if (sp && sp.participant_id === me.participant_id) {
      Live.takeover({ key: "speak-" + sp.request_id, kind: S.takeover_kind, title: S.takeover_title,
        text: S.takeover_text, go: S.takeover_go, target: "speak-panel" });
    } else {
      Live.dismissTakeover("speak-*");
    }
  }

  function render() {
    if (!P.data) return;
    floorAlert();
    if (page === "kiosk") { renderKiosk(); return; }
    var panel = document.getElementById("speak-panel");
    if (!panel) return;
    if (page === "chair") renderChair(panel); else renderDelegate(panel);
  }

  // Once a second only the clocks change; rebuilding the panel would steal focus from the time selector.
  function tick() {
    if (!P.data || !P.data.speaking) return;
    if (page === "kiosk") { renderKiosk(); return; }
    var sec = P.remaining();
    Array.prototype.forEach.call(document.querySelectorAll('[data-speak="countdown"]'), function (n) {
      n.textContent = P.clock(sec);
      n.classList.toggle("over", sec <= 0);
    });
  }

  document.addEventListener("click", function (ev) {
    var t = ev.target.closest("[data-speak-action]");
    if (!t || t.tagName !== "BUTTON") return;
    var act = t.dataset.speakAction;
    if (act === "request") send("speak.request");
    else if (act === "withdraw") send("speak.withdraw");
    else if (act === "give") send("speak.give", { request_id: Number(t.dataset.request) });
    else if (act === "take-off") send("speak.withdraw", { request_id: Number(t.dataset.request) });
    else if (act === "end") send("speak.end");
    else if (act === "more") send("speak.set_time", { limit_s: Number(t.dataset.limit), current: true });
  });
  document.addEventListener("change", function (ev) {
    var t = ev.target;
    if (t && t.dataset && t.dataset.speakAction === "default-time") {
      send("speak.set_time", { limit_s: Number(t.value) });
    }
  });

  Live.socket.on("speakers", function (p) {
    if (!Live.applySeq(p.seq)) return;
    Live.state().speakers = p;
    P.accept(p);
  });
  Live.on("state", function (st) { P.accept(st.speakers); });
  Live.on("connection", function () { render(); });
  P.accept(Live.state().speakers);
  setInterval(tick, 500);
})();
