/* Question time (chất vấn) on the phone, the chair's console, the projector and the clerk's console.
   Shows what the server sent in `questions` (and in `state.questions`); the only arithmetic is the countdown,
   counted against the server's clock (server_now_ms) so a device with a wrong clock still shows the right time. */
(function () {
  "use strict";
  if (!window.Live) return;
  var Live = window.Live;
  var Q = JSON.parse(document.getElementById("i18n-questions").textContent);
  var page = document.body.dataset.page;
  var me = Live.state().me || {};
  var perms = me.permissions || [];
  var canFile = perms.indexOf("question.can_file") >= 0;
  var canManage = perms.indexOf("question.can_manage") >= 0;
  var notice = "";      // "filed": said once after a question was filed, until the next change of the list
  var noticeSeq = 0;    // the seq of that filing
  var draft = { addressee_name: "", addressee_title: "", topic: "", text: "" };  // kept across re-renders

  // The payload, the server clock's offset, the countdown and one action at a time: panel.js, shared with speakers.js.
  var P = window.LivePanel(render, function (d) { return d.current; });

  function el(tag, attrs, text) { return Live.el(tag, attrs, text); }

  function send(event, payload, after) {
    P.send(event, payload, function (res) { notice = ""; if (after) after(res); });
  }

  function vnDate(iso) {
    if (!iso) return "";
    var p = iso.split("-");
    return p[2] + "/" + p[1] + "/" + p[0];
  }

  function addressee(q) {
    if (q.addressee_name && q.addressee_title) return q.addressee_name + " — " + q.addressee_title;
    return q.addressee_name || q.addressee_title;
  }

  function statusText(q) {
    if (q.status === "written") {
      return Live.fmt(Q.status_written, { date: vnDate(q.due_date) }) + (q.overdue ? " · " + Q.overdue : "");
    }
    return Q["status_" + q.status] || q.status;
  }

  function note(root) {
    if (P.message) root.appendChild(el("p", { "class": "q-error", "role": "alert", "data-q": "error" }, P.message));
    if (notice) root.appendChild(el("p", { "class": "q-notice", "role": "status", "data-q": "notice" }, notice));
  }

  function currentBlock(root, withClock) {
    var c = P.data.current;
    var box = el("div", { "class": "q-current", "data-q": "current" });
    box.appendChild(el("p", { "class": "q-label" }, Q.on_floor + " · " + Q["phase_" + c.phase]));
    box.appendChild(el("p", { "class": "q-topic" }, c.topic));
    box.appendChild(el("p", { "class": "q-who" }, Live.fmt(Q.asks, { asker: c.asker_name, addressee: addressee(c) })));
    if (withClock) {
      var sec = P.remaining();
      box.appendChild(el("p", { "class": "q-clock" + (sec <= 0 ? " over" : ""), "data-q": "countdown" }, P.clock(sec)));
    }
    root.appendChild(box);
    return box;
  }

  function field(form, name, label, multiline, attrs) {
    var lab = el("label", { "class": "q-field" }, label);
    var input = el(multiline ? "textarea" : "input", attrs || {});
    input.name = name;
    input.value = draft[name];
    input.setAttribute("data-q-field", name);
    lab.appendChild(input);
    form.appendChild(lab);
  }

  // This delegate's follow-up or debate on the question on the floor, waiting in the speakers' list, or null.
  function queuedOnFloor() {
    var sp = Live.state().speakers;
    var c = P.data.current;
    return ((sp && sp.queue) || []).filter(function (r) {
      return r.participant_id === me.participant_id && (r.kind === "follow_up" || r.kind === "debate") &&
        (r.question_id === undefined || r.question_id === null || r.question_id === c.id);
    })[0] || null;
  }

  function renderDelegate(panel) {
    panel.hidden = false;
    panel.innerHTML = "";
    panel.appendChild(el("h2", {}, Q.heading));
    if (P.data.current) {
      currentBlock(panel, true);
      var asked = canFile && P.data.current.asker_id !== me.participant_id ? queuedOnFloor() : null;
      if (asked) {
        // Already in the speakers' list for this question: where, rather than the buttons again.
        panel.appendChild(el("p", { "class": "q-queued", "data-q": "queued" },
          Live.fmt(Q["queued_" + asked.kind], { place: asked.place })));
      } else if (canFile && P.data.current.asker_id !== me.participant_id) {
        var row = el("p", { "class": "q-buttons" });
        row.appendChild(el("button", { "class": "button q-big", "type": "button", "data-q-action": "follow_up" },
          Q.follow_up));
        row.appendChild(el("button", { "class": "button q-big", "type": "button", "data-q-action": "debate" },
          Q.debate));
        panel.appendChild(row);
      }
    }
    note(panel);
    if (!canFile) return;
    var mine = P.data.questions.filter(function (q) { return q.asker_id === me.participant_id; });
    panel.appendChild(el("h3", {}, Q.mine));
    if (!mine.length) panel.appendChild(el("p", { "class": "hint" }, Q.none_mine));
    var ul = el("ul", { "class": "q-mine", "data-q": "mine" });
    mine.forEach(function (q) {
      var li = el("li", { "data-question": q.id, "data-status": q.status });
      li.appendChild(el("strong", {}, q.topic));
      li.appendChild(el("span", { "class": "q-to" }, addressee(q)));
      li.appendChild(el("span", { "class": "q-state" + (q.overdue ? " overdue" : ""), "data-q": "state" },
        statusText(q)));
      if (q.status === "filed" || q.status === "called") {
        li.appendChild(el("button", { "class": "button q-big", "type": "button", "data-q-action": "withdraw-own",
          "data-question": q.id }, Q.withdraw));
      }
      ul.appendChild(li);
    });
    panel.appendChild(ul);

    // A closed sitting takes no more questions (the server refuses them too, question.meeting_ended): say so
    // instead of offering a form whose answer would be a refusal.
    if ((Live.state().meeting || {}).status === "ended") {
      panel.appendChild(el("p", { "class": "q-notice", "data-q": "ended" }, Q.meeting_ended));
      return;
    }
    panel.appendChild(el("h3", {}, Q.file_heading));
    var form = el("form", { "class": "q-form", "data-q": "form" });
    field(form, "addressee_title", Q.addressee_title, false,
      { "maxlength": "200", "list": "question-addressees", "placeholder": Q.addressee_hint });
    field(form, "addressee_name", Q.addressee_name, false, { "maxlength": "120" });
    field(form, "topic", Q.topic, false, { "maxlength": "200" });
    field(form, "text", Q.text, true, { "maxlength": "2000", "rows": "4" });
    form.appendChild(el("button", { "class": "button primary q-big", "type": "submit" }, Q.send));
    panel.appendChild(form);
  }

  function moveButtons(q, i, n) {
    var span = el("span", { "class": "q-actions" });
    var up = el("button", { "class": "button small", "type": "button", "data-q-action": "up",
      "data-question": q.id, "aria-label": Q.up, "title": Q.up }, "↑");
    var down = el("button", { "class": "button small", "type": "button", "data-q-action": "down",
      "data-question": q.id, "aria-label": Q.down, "title": Q.down }, "↓");
    up.disabled = i === 0;
    down.disabled = i === n - 1;
    span.appendChild(up);
    span.appendChild(down);
    span.appendChild(el("button", { "class": "button small primary", "type": "button", "data-q-action": "call",
      "data-question": q.id }, Q.call));
    return span;
  }

  function renderChair(panel) {
    panel.hidden = false;
    panel.innerHTML = "";
    panel.appendChild(el("h2", {}, Q.heading));
    var c = P.data.current;
    if (c) {
      var box = currentBlock(panel, true);
      box.appendChild(el("p", { "class": "q-text" }, c.text));
      if (canManage) {
        var row = el("div", { "class": "q-end" });
        if (c.phase === "asking") {
          row.appendChild(el("button", { "class": "button primary", "type": "button", "data-q-action": "answer",
            "data-question": c.id }, Q.answer));
        }
        row.appendChild(el("button", { "class": "button", "type": "button", "data-q-action": "end-answered",
          "data-question": c.id }, Q.end_answered));
        row.appendChild(writtenControl(c));
        row.appendChild(el("button", { "class": "button danger", "type": "button", "data-q-action": "end-withdrawn",
          "data-question": c.id }, Q.end_withdrawn));
        box.appendChild(row);
      }
    }
    note(panel);
    var waiting = P.data.questions.filter(function (q) { return q.status === "filed"; });
    panel.appendChild(el("h3", {}, Q.waiting));
    if (!waiting.length) panel.appendChild(el("p", { "class": "hint" }, Q.none_waiting));
    var ol = el("ol", { "class": "q-list", "data-q": "waiting" });
    waiting.forEach(function (q, i) {
      var li = el("li", { "data-question": q.id });
      var who = el("div", { "class": "q-item" });
      who.appendChild(el("strong", {}, q.topic));
      who.appendChild(el("small", {}, " · " + Live.fmt(Q.asks, { asker: q.asker_name, addressee: addressee(q) }) +
        (q.on_paper ? " (" + Q.paper + ")" : "")));
      li.appendChild(who);
      if (canManage) {
        var btns = moveButtons(q, i, waiting.length);
        btns.appendChild(writtenControl(q));
        btns.appendChild(el("button", { "class": "button small danger", "type": "button",
          "data-q-action": "end-withdrawn", "data-question": q.id }, Q.end_withdrawn));
        li.appendChild(btns);
      }
      ol.appendChild(li);
    });
    panel.appendChild(ol);
    endedList(panel);
  }

  function writtenControl(q) {
    var span = el("span", { "class": "q-written" });
    var input = el("input", { "type": "date", "aria-label": Q.due, "title": Q.due, "data-q-due": q.id,
      "min": P.data.today });
    input.value = P.data.default_due_date;
    span.appendChild(input);
    span.appendChild(el("button", { "class": "button small", "type": "button", "data-q-action": "end-written",
      "data-question": q.id }, Q.end_written));
    return span;
  }

  function endedList(root) {
    var ended = P.data.questions.filter(function (q) { return q.status !== "filed" && q.status !== "called"; });
    if (!ended.length) return;
    root.appendChild(el("h3", {}, Q.ended));
    var ul = el("ul", { "class": "q-list q-ended", "data-q": "ended" });
    ended.forEach(function (q) {
      var li = el("li", { "data-question": q.id, "data-status": q.status });
      li.appendChild(el("span", {}, q.topic + " · " + q.asker_name));
      li.appendChild(el("span", { "class": "q-state" + (q.overdue ? " overdue" : "") }, statusText(q)));
      ul.appendChild(li);
    });
    root.appendChild(ul);
  }

  function renderKiosk() {
    var box = document.getElementById("kiosk-question");
    if (!box) return;
    var c = P.data.current;
    box.hidden = !c;
    document.body.classList.toggle("kiosk-questioning", !!c);
    if (!c) return;
    box.classList.toggle("answering", c.phase === "answering");
    box.querySelector('[data-q="phase"]').textContent = Q["phase_" + c.phase];
    box.querySelector('[data-q="topic"]').textContent = c.topic;
    box.querySelector('[data-q="text"]').textContent = c.text;
    box.querySelector('[data-q="asker"]').textContent = c.asker_name + (c.asker_title ? " — " + c.asker_title : "");
    box.querySelector('[data-q="addressee"]').textContent = addressee(c);
    kioskClock(box);
  }

  function kioskClock(box) {
    var sec = P.remaining();
    var n = box.querySelector('[data-q="clock"]');
    n.textContent = sec === null ? "" : (sec <= 0 ? Q.over_time + " " + P.clock(sec) : P.clock(sec));
    n.classList.toggle("over", sec !== null && sec <= 0);
  }

  function renderClerk() {
    var all = document.querySelector('[data-q="all"]');
    if (all) {
      all.innerHTML = "";
      P.data.questions.forEach(function (q) {
        var li = el("li", { "data-question": q.id, "data-status": q.status });
        li.appendChild(el("strong", {}, q.topic));
        li.appendChild(el("span", {}, " · " + Live.fmt(Q.asks, { asker: q.asker_name, addressee: addressee(q) }) +
          (q.on_paper ? " (" + Q.paper + ")" : "") + " · "));
        li.appendChild(el("span", { "class": "q-state" + (q.overdue ? " overdue" : "") }, statusText(q)));
        all.appendChild(li);
      });
    }
    var table = document.querySelector('[data-q="owed"]');
    if (!table) return;
    var tbody = table.querySelector("tbody");
    tbody.innerHTML = "";
    var tpl = document.getElementById("q-received-form");
    var url = document.querySelector('[data-q="received-url"]').dataset.url;
    P.data.owed.forEach(function (q) {
      var tr = el("tr", { "data-question": q.id, "class": q.overdue ? "overdue" : "" });
      var due = el("td", { "class": "nowrap" }, vnDate(q.due_date));
      if (q.overdue) due.appendChild(el("strong", { "class": "q-overdue" }, " " + Q.overdue));
      tr.appendChild(due);
      tr.appendChild(el("td", {}, q.asker_name));
      tr.appendChild(el("td", {}, addressee(q)));
      tr.appendChild(el("td", {}, q.topic));
      var td = el("td", {});
      var form = tpl.content.firstElementChild.cloneNode(true);
      form.action = url.replace(/\/0\/written$/, "/" + q.id + "/written");
      td.appendChild(form);
      tr.appendChild(td);
      tbody.appendChild(tr);
    });
    table.hidden = !P.data.owed.length;
    document.querySelector('[data-q="owed-none"]').hidden = !!P.data.owed.length;
  }

  function render() {
    if (!P.data) return;
    if (page === "kiosk") { renderKiosk(); return; }
    if (page === "clerk") { renderClerk(); return; }
    var panel = document.getElementById("question-panel");
    if (!panel) return;
    // Keep the focus in the form while the list changes under it (someone else filed a question).
    var focused = document.activeElement && document.activeElement.getAttribute("data-q-field");
    if (page === "chair") renderChair(panel); else renderDelegate(panel);
    if (focused) {
      var again = panel.querySelector('[data-q-field="' + focused + '"]');
      if (again) again.focus();
    }
  }

  // Once a second only the clocks change.
  function tick() {
    if (!P.data || !P.data.current) return;
    if (page === "kiosk") { var box = document.getElementById("kiosk-question"); if (box) kioskClock(box); return; }
    var sec = P.remaining();
    Array.prototype.forEach.call(document.querySelectorAll('[data-q="countdown"]'), function (n) {
      n.textContent = P.clock(sec);
      n.classList.toggle("over", sec <= 0);
    });
  }

  function reorder(id, delta) {
    var ids = P.data.questions.filter(function (q) { return q.status === "filed"; }).map(function (q) { return q.id; });
    var i = ids.indexOf(id), j = i + delta;
    if (i < 0 || j < 0 || j >= ids.length) return;
    ids[i] = ids[j];
    ids[j] = id;
    send("question.reorder", { order: ids });
  }

  function end(id, outcome) {
    var payload = { question_id: id, outcome: outcome };
    if (outcome === "written") {
      var input = document.querySelector('[data-q-due="' + id + '"]');
      payload.due_date = input ? input.value : "";
    }
    send("question.end", payload);
  }

  document.addEventListener("input", function (ev) {
    var name = ev.target && ev.target.getAttribute && ev.target.getAttribute("data-q-field");
    if (name) draft[name] = ev.target.value;
  });
  document.addEventListener("submit", function (ev) {
    if (!ev.target.matches('[data-q="form"]')) return;
    ev.preventDefault();
    send("question.file", draft, function (res) {
      if (res && res.ok !== false) {
        draft = { addressee_name: "", addressee_title: "", topic: "", text: "" };
        notice = Q.sent;
        noticeSeq = res.seq || 0;
        if (document.activeElement) document.activeElement.blur();
      }
    });
  });
  document.addEventListener("click", function (ev) {
    var t = ev.target.closest("[data-q-action]");
    if (!t || t.tagName !== "BUTTON") return;
    var act = t.dataset.qAction, id = Number(t.dataset.question);
    if (act === "withdraw-own") send("question.withdraw", { question_id: id });
    else if (act === "follow_up" || act === "debate") send("speak.request", { kind: act });
    else if (act === "call") send("question.call", { question_id: id });
    else if (act === "answer") send("question.answer", { question_id: id });
    else if (act === "end-answered") end(id, "answered");
    else if (act === "end-written") end(id, "written");
    else if (act === "end-withdrawn") end(id, "withdrawn");
    else if (act === "up") reorder(id, -1);
    else if (act === "down") reorder(id, 1);
  });

  Live.socket.on("questions", function (p) {
    if (!Live.applySeq(p.seq)) return;
    Live.state().questions = p;
    if (notice && p.seq > noticeSeq) notice = "";  // "sent" belongs to the filing's own update, not later ones
    P.accept(p);
  });
  // The phone's follow-up and debate buttons depend on the speakers' list (speakers.js stores it in the state).
  if (page !== "kiosk" && page !== "clerk" && page !== "chair") {
    Live.socket.on("speakers", function () { setTimeout(render, 0); });
  }
  Live.on("state", function (st) { P.accept(st.questions); });
  P.accept(Live.state().questions);
  setInterval(tick, 500);
})();
