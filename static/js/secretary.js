/* The session secretary's screen: attendance and open-vote ballots of delegates without a phone, and the counting
   committee's paper totals of a secret poll. Shows what the server sent; every rule (who may be recorded, what a
   total may be) is the server's, whose message is shown beside the control that sent it. ES5. */
(function () {
  "use strict";
  if (!window.Live) return;
  var L = window.Live, el = L.el, fmt = L.fmt;
  var I = JSON.parse(document.getElementById("i18n-secretary").textContent);
  var withDevice = JSON.parse(document.getElementById("secretary-data").textContent).with_device || [];
  var COUNCIL = ["chair", "secretary", "delegate"];
  var shown = (L.state().voting || {}).shown || null;
  var absentFor = null;          // participant id whose absence reason is being typed
  var messages = {};             // where -> {text, ok}
  var proxyPick = { pid: "", choice: "" };
  var paperDraft = {};           // poll id -> {field: value} typed but not saved

  function csrf() { return document.querySelector('meta[name="csrf-token"]').content; }
  function api(method, path, body) {
    return fetch(path, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), "Accept": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) throw new Error(j.message || I.no_answer);
        return j;
      });
    }, function () { throw new Error(I.no_answer); });
  }
  function say(where, text, ok) { messages[where] = { text: text, ok: !!ok }; }
  function messageEl(where) {
    var m = messages[where];
    if (!m) return null;
    return el("p", { "class": "sec-message " + (m.ok ? "ok" : "error"), "role": m.ok ? "status" : "alert",
      "data-sec-message": where }, m.text);
  }
  function council() {
    return (L.state().attendees || []).filter(function (p) { return COUNCIL.indexOf(p.role) >= 0; });
  }

  /* ---------- attendance ---------- */
  function renderAttendance() {
    var list = document.querySelector('[data-sec="attendance"]');
    if (!list || list.contains(document.activeElement) && absentFor !== null &&
        document.activeElement.tagName === "INPUT") return;  // do not redraw under the reason being typed
    list.innerHTML = "";
    council().forEach(function (p) {
      var li = el("li", { "class": "sec-person status-" + p.status, "data-participant": p.id });
      var who = el("div", { "class": "sec-who" });
      who.appendChild(el("strong", {}, p.position + ". " + p.name));
      var device = withDevice.indexOf(p.id) >= 0;
      who.appendChild(el("span", { "class": "sec-device" + (device ? " on" : "") }, device ? I.has_device : I.no_device));
      var status = I[p.status] || p.status;
      if (p.status === "absent" && p.reason) status += " (" + p.reason + ")";
      who.appendChild(el("span", { "class": "sec-status", "data-status": p.status }, status));
      li.appendChild(who);
      var acts = el("div", { "class": "sec-actions" });
      if (absentFor === p.id) {
        var input = el("input", { "type": "text", "maxlength": "300", "data-sec-reason": p.id,
          "aria-label": I.reason + " — " + p.name, "placeholder": I.reason_placeholder });
        acts.appendChild(input);
        acts.appendChild(el("button", { "type": "button", "class": "button primary", "data-sec-absent-save": p.id }, I.save_absent));
        acts.appendChild(el("button", { "type": "button", "class": "button", "data-sec-absent-cancel": p.id }, I.cancel));
      } else {
        if (p.status !== "present") {
          acts.appendChild(el("button", { "type": "button", "class": "button", "data-sec-present": p.id }, I.mark_present));
        }
        if (p.status !== "absent") {
          acts.appendChild(el("button", { "type": "button", "class": "button", "data-sec-absent": p.id }, I.mark_absent));
        }
      }
      li.appendChild(acts);
      var msg = messageEl("att" + p.id);
      if (msg) li.appendChild(msg);
      list.appendChild(li);
    });
  }

  function mark(pid, status, reason) {
    Object.keys(messages).forEach(function (k) { if (k.indexOf("att") === 0) delete messages[k]; });
    api("POST", "/api/v1/meetings/" + L.state().meeting.id + "/attendance/" + pid, { status: status, reason: reason || "" })
      .then(function () { absentFor = null; say("att" + pid, I.saved, true); renderAttendance(); })
      .catch(function (e) { say("att" + pid, e.message, false); renderAttendance(); });
  }

  /* ---------- ballots recorded for someone ---------- */
  function renderProxy() {
    var box = document.querySelector('[data-sec="proxy"]');
    if (!box) return;
    box.innerHTML = "";
    var p = shown;
    if (p && p.state === "open" && p.secret) { box.appendChild(el("p", { "class": "hint" }, I.secret_no_proxy)); return; }
    if (!p || p.state !== "open") { box.appendChild(el("p", { "class": "hint", "data-sec-empty": "proxy" }, I.no_open_poll)); return; }
    box.appendChild(el("h3", { "class": "vote-title" }, p.title));
    var label = el("label", { "class": "sec-field" }, I.proxy_for);
    var sel = el("select", { "data-sec-proxy-person": "" });
    sel.appendChild(el("option", { "value": "" }, I.pick_delegate));
    council().filter(function (x) { return x.status === "present"; }).forEach(function (x) {
      var o = el("option", { "value": String(x.id) }, x.position + ". " + x.name);
      if (String(x.id) === proxyPick.pid) o.selected = true;
      sel.appendChild(o);
    });
    label.appendChild(sel);
    box.appendChild(label);
    var opts = el("div", { "class": "sec-choices" });
    (p.options || []).forEach(function (o) {
      var on = proxyPick.choice === o.key;
      opts.appendChild(el("button", { "type": "button", "class": "button vote-option" + (on ? " chosen" : ""),
        "aria-pressed": String(on), "data-sec-choice": o.key }, o.label));
    });
    box.appendChild(opts);
    var go = el("button", { "type": "button", "class": "button primary", "data-sec-proxy-send": p.id }, I.record_ballot);
    if (!proxyPick.pid || !proxyPick.choice) go.disabled = true;
    box.appendChild(go);
    var msg = messageEl("proxy");
    if (msg) box.appendChild(msg);
  }

  function sendProxy(button) {
    var p = shown, pid = Number(proxyPick.pid), choice = proxyPick.choice;
    var person = council().filter(function (x) { return x.id === pid; })[0];
    var label = ((p.options || []).filter(function (o) { return o.key === choice; })[0] || {}).label || choice;
    button.disabled = true; button.textContent = I.sending;
    api("POST", "/api/v1/polls/" + p.id + "/proxy", { participant_id: pid, choice: choice })
      .then(function () {
        say("proxy", fmt(I.recorded_for, { choice: label, name: person ? person.name : "" }), true);
        proxyPick = { pid: "", choice: "" };
      })
      .catch(function (e) { say("proxy", e.message, false); })
      .then(renderProxy);
  }

  /* ---------- paper totals ---------- */
  function paperKeys(p) {
    if (p.kind === "election") return p.candidates.map(function (x) { return { key: x.key, name: x.name }; });
    if (p.kind === "confidence_rating") {
      var out = [];
      p.officials.forEach(function (o) {
        p.levels.forEach(function (lv) { out.push({ key: o.key + "|" + lv.key, name: o.name + " — " + lv.label }); });
      });
      return out;
    }
    return (p.options || []).map(function (o) { return { key: o.key, name: o.label }; });
  }

  function renderPaper() {
    var box = document.querySelector('[data-sec="paper"]');
    if (!box) return;
    if (box.contains(document.activeElement) && document.activeElement.tagName === "INPUT") return;
    box.innerHTML = "";
    var p = shown;
    if (!p || !p.secret || (p.state !== "open" && p.state !== "closed")) {
      box.appendChild(el("p", { "class": "hint", "data-sec-empty": "paper" }, I.no_secret_poll));
      return;
    }
    var saved = (p.result && p.result.paper) || p.paper || null;
    var draft = paperDraft[p.id] = paperDraft[p.id] || {};
    var form = el("form", { "class": "sec-paper-form", "data-sec-paper": p.id, "novalidate": "" });
    form.appendChild(el("h3", { "class": "vote-title" }, p.title));
    if (saved) {
      form.appendChild(el("p", { "class": "hint", "data-sec-paper-current": "" },
        fmt(I.paper_current, { issued: saved.issued, returned: saved.returned, invalid: saved.invalid || 0 })));
    }
    function field(name, label, value) {
      var l = el("label", { "class": "sec-field" }, label);
      var input = el("input", { "type": "number", "inputmode": "numeric", "min": "0", "step": "1", "name": name,
        "data-label": label });
      input.value = draft[name] !== undefined ? draft[name] : (value === undefined ? "" : String(value));
      l.appendChild(input);
      form.appendChild(l);
    }
    field("issued", I.issued, saved ? saved.issued : undefined);
    field("returned", I.returned, saved ? saved.returned : undefined);
    field("invalid", I.invalid, saved ? (saved.invalid || 0) : 0);
    paperKeys(p).forEach(function (k) {
      var v;
      if (saved) {
        if (k.key.indexOf("|") >= 0) { var a = k.key.split("|"); v = ((saved.ratings || {})[a[0]] || {})[a[1]]; }
        else v = (saved.counts || {})[k.key];
      }
      field("c:" + k.key, fmt(I.votes_for, { name: k.name }), v === undefined ? (saved ? 0 : undefined) : v);
    });
    form.appendChild(el("button", { "type": "submit", "class": "button primary" }, I.save_paper));
    var msg = messageEl("paper");
    if (msg) form.appendChild(msg);
    box.appendChild(form);
  }

  function submitPaper(form) {
    var p = shown, body = { counts: {}, ratings: {} }, bad = null;
    Array.prototype.forEach.call(form.querySelectorAll("input"), function (input) {
      var raw = input.value.trim();
      if (bad) return;
      if (!/^\d+$/.test(raw)) { bad = input; return; }
      var n = parseInt(raw, 10), name = input.name;
      if (name.indexOf("c:") === 0) {
        var key = name.slice(2);
        if (key.indexOf("|") >= 0) {
          var a = key.split("|");
          body.ratings[a[0]] = body.ratings[a[0]] || {};
          body.ratings[a[0]][a[1]] = n;
        } else body.counts[key] = n;
      } else body[name] = n;
    });
    if (bad) {
      say("paper", fmt(I.whole_number, { field: bad.dataset.label }), false);
      renderPaperKeepingDraft(form);
      bad = form.querySelector('[name="' + bad.name + '"]');
      return;
    }
    api("POST", "/api/v1/polls/" + p.id + "/paper", body)
      .then(function (view) {
        delete paperDraft[p.id];
        if (view && view.id === p.id) shown = view;
        say("paper", fmt(I.paper_saved, { issued: body.issued, returned: body.returned }), true);
        renderPaper();
      })
      .catch(function (e) { say("paper", e.message, false); renderPaperKeepingDraft(form); });
  }

  function renderPaperKeepingDraft(form) {
    var draft = paperDraft[shown.id] = {};
    Array.prototype.forEach.call(form.querySelectorAll("input"), function (i) { draft[i.name] = i.value; });
    if (document.activeElement && document.activeElement.blur) document.activeElement.blur();
    renderPaper();
  }

  function render() { renderAttendance(); renderProxy(); renderPaper(); }

  /* ---------- events ---------- */
  L.on("render", function (st) {
    if (st.voting && st.voting.shown !== undefined) shown = st.voting.shown;
    render();
  });
  L.socket.on("poll", function (ev) {
    var p = ev && ev.poll;
    if (!p || p.state === "draft") return;
    if (!shown || shown.id !== p.id) { proxyPick = { pid: "", choice: "" }; delete messages.proxy; delete messages.paper; }
    shown = p;
    render();
  });
  L.socket.on("attendance", function () { renderProxy(); });

  document.addEventListener("click", function (ev) {
    var t = ev.target.closest("button"); if (!t) return;
    var d = t.dataset;
    if (d.secPresent) { mark(Number(d.secPresent), "present"); }
    else if (d.secAbsent) {
      absentFor = Number(d.secAbsent); delete messages["att" + absentFor]; renderAttendance();
      var input = document.querySelector('[data-sec-reason="' + absentFor + '"]'); if (input) input.focus();
    } else if (d.secAbsentSave) {
      var pid = Number(d.secAbsentSave), r = document.querySelector('[data-sec-reason="' + pid + '"]');
      mark(pid, "absent", r ? r.value.trim() : "");
    } else if (d.secAbsentCancel) { absentFor = null; renderAttendance(); }
    else if (d.secChoice) { proxyPick.choice = d.secChoice; renderProxy(); }
    else if (d.secProxySend) { sendProxy(t); }
  });
  document.addEventListener("change", function (ev) {
    var t = ev.target;
    if (t.hasAttribute && t.hasAttribute("data-sec-proxy-person")) { proxyPick.pid = t.value; renderProxy(); }
  });
  document.addEventListener("submit", function (ev) {
    var f = ev.target;
    if (f.hasAttribute && f.hasAttribute("data-sec-paper")) { ev.preventDefault(); submitPaper(f); }
  });

  render();
})();
