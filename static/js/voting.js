/* Voting panels (delegate, chair/clerk, projector). Shows what the server sent: options, progress, results and
   announcement lines; never counts or decides anything itself. A ballot shows as recorded only after the ack. */
(function () {
  "use strict";
  if (!window.Live) return;
  var L = window.Live, el = L.el, fmt = L.fmt;
  var I = JSON.parse(document.getElementById("i18n-voting").textContent);
  var panels = Array.prototype.slice.call(document.querySelectorAll("[data-vote-panel]"));
  if (!panels.length) return;
  var st = L.state();
  var voting = st.voting || { shown: null, polls: [] };
  var mine = (voting.mine) || {};          // poll id -> {voted, choice}: this phone's own ballots
  var draft = {};                          // poll id -> the choice being made, before confirmation
  var pending = {};                        // poll id -> true while a cast waits for its ack
  var message = {};                        // poll id -> error text of the last failed cast
  var deadline = {};                       // poll id -> local ms when the countdown ends
  var blank = {};                          // poll id -> true: a blank ballot chosen on purpose
  var over = {};                           // poll id -> the candidate refused for being one name too many
  var second = {};                         // poll id -> true while the second confirmation is asked
  var changing = {};                       // poll id -> true: a recorded ballot being changed (allow_change)
  var can = function (p) { return (L.state().me.permissions || []).indexOf(p) >= 0; };
  var me = L.state().me;
  var isDelegate = ["chair", "secretary", "delegate"].indexOf(me.role) >= 0;

  function csrf() { return document.querySelector('meta[name="csrf-token"]').content; }
  function api(method, path, body) {
    return fetch("/api/v1" + path, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), "Accept": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error(j.message || r.status); return j; }); });
  }
  function fail(e) { window.Dialog.tell(e.message || String(e)); }

  function setShown(p) {
    if (p && p.ends_in_ms !== null && p.ends_in_ms !== undefined) deadline[p.id] = Date.now() + p.ends_in_ms;
    voting.shown = p;
  }
  function upsert(p) {
    var list = voting.polls || [];
    var i = list.map(function (x) { return x.id; }).indexOf(p.id);
    if (i >= 0) list[i] = p; else list.push(p);
    voting.polls = list;
  }

  L.on("state", function (s) {
    voting = s.voting || voting;
    if (voting.mine) {                      // a personal snapshot (connect/sync); role broadcasts carry none
      // Keep the words of what this phone sent (a secret ballot's choice is never sent back by the server).
      Object.keys(voting.mine).forEach(function (id) {
        if (mine[id] && mine[id].label && !voting.mine[id].label) voting.mine[id].label = mine[id].label;
      });
      mine = voting.mine;
    }
    setShown(voting.shown);
    render();
  });
  L.socket.on("poll", function (ev) {
    if (!L.applySeq(ev.seq)) return;
    var p = ev.poll;
    if (!p) return;
    if (can("vote.can_manage")) upsert(p);
    if (p.state === "open" || p.state === "closed" || p.state === "cancelled") setShown(p);
    render();
  });
  L.socket.on("poll.progress", function (ev) {
    if (!L.applySeq(ev.seq)) return;
    [voting.shown].concat(voting.polls || []).forEach(function (p) {
      if (p && p.id === ev.poll_id && p.progress) { p.progress.voted = ev.voted; p.progress.eligible = ev.eligible; }
    });
    render();
  });

  /* ---------- pieces ---------- */

  function progressLine(p) {
    return el("p", { "class": "vote-progress", "data-bind": "vote_progress" }, fmt(I.voted_line, p.progress));
  }
  function countdown(p) {
    if (p.state !== "open" || !deadline[p.id]) return null;
    var s = Math.max(0, Math.ceil((deadline[p.id] - Date.now()) / 1000));
    return el("p", { "class": "vote-countdown", "data-countdown": p.id }, fmt(I.time_left, { s: s }));
  }
  function head(p) {
    var box = el("div", { "class": "vote-head" });
    box.appendChild(el("p", { "class": "vote-kind" }, p.kind_label + " · " + (I["state_" + p.state] || p.state)));
    box.appendChild(el("h3", { "class": "vote-title" }, p.title));
    return box;
  }

  function bars(rows) {
    // rows: [{label, votes, percent}] as the server sent them; the bar is the server's percentage, drawn.
    var list = el("div", { "class": "vote-bars" });
    rows.forEach(function (o) {
      var row = el("div", { "class": "vote-bar-row", "data-option": o.key });
      row.appendChild(el("span", { "class": "vote-bar-label" }, o.label));
      var track = el("span", { "class": "vote-bar-track" });
      var bar = el("span", { "class": "vote-bar" });
      bar.style.width = Math.min(100, parseFloat(String(o.percent).replace(/\./g, "").replace(",", "."))) + "%";
      track.appendChild(bar);
      row.appendChild(track);
      row.appendChild(el("span", { "class": "vote-bar-figure" }, o.votes + " · " + o.percent));
      list.appendChild(row);
    });
    return list;
  }

  // What the result decided, before anything else (a failed "Thông qua …" motion reads "KHÔNG THÔNG QUA" first;
  // an election names who is elected): the server's short verdict, coloured by the server's outcome.
  var TONE = { passed: "passed", elected: "passed", confidence_retained: "passed", rejected: "rejected",
    dismissal_proposed: "rejected", seats_unfilled: "rejected", tie: "rejected" };
  function headline(p) {
    var r = p.result || {};
    var text = r.passed === true ? I.passed : r.passed === false ? I.rejected : (p.headline || "");
    var box = el("div", { "class": "vote-headline " + (TONE[r.outcome] || "neutral"), "data-headline": p.id });
    box.appendChild(el("p", { "class": "vote-verdict " + (TONE[r.outcome] || "neutral") }, text));
    // Open and secret votes say THÔNG QUA / KHÔNG THÔNG QUA; the others their verdict itself (who is elected).
    if ((r.passed === true || r.passed === false) && p.headline && p.kind !== "open" && p.kind !== "secret") {
      box.appendChild(el("p", { "class": "vote-headline-detail" }, p.headline));
    }
    return box;
  }

  function ratingsTable(r) {
    // The projector: one row per official (20 of them fit a 1080-line screen), each level's votes and share.
    var t = el("table", { "class": "vote-ratings" }), thead = el("thead"), hr = el("tr"), tb = el("tbody");
    hr.appendChild(el("th", {}, ""));
    ((r.ratings[0] || {}).levels || []).forEach(function (lv) { hr.appendChild(el("th", {}, lv.label)); });
    thead.appendChild(hr); t.appendChild(thead);
    r.ratings.forEach(function (o) {
      var tr = el("tr", { "data-official": o.key });
      tr.appendChild(el("th", { scope: "row" }, o.name));
      o.levels.forEach(function (lv) { tr.appendChild(el("td", {}, lv.votes + " · " + lv.percent)); });
      tb.appendChild(tr);
    });
    t.appendChild(tb);
    return t;
  }

  function result(p, onKiosk) {
    var r = p.result, box = el("div", { "class": "vote-result", "data-result": p.id });
    if (r.options && r.options.length) {
      var b = bars(r.options);
      if (r.options.length > 8) b.className += " many";
      box.appendChild(b);
    }
    if (onKiosk && (r.ratings || []).length) box.appendChild(ratingsTable(r));
    else (r.ratings || []).forEach(function (o) {
      box.appendChild(el("h4", {}, o.name));
      box.appendChild(bars(o.levels));
    });
    var ul = el("ul", { "class": "vote-lines", "data-bind": "vote_lines" });
    var lines = r.lines;
    if (onKiosk && (r.ratings || []).length) {
      // The table above carries each official's figures: the projector keeps the announcement's opening lines
      // (ballots issued, returned, invalid) and leaves the per-official lines to the table.
      var first = r.ratings[0].name + ":";
      var cut = lines.indexOf(first);
      if (cut > 0) lines = lines.slice(0, cut);
    }
    lines.forEach(function (line) { ul.appendChild(el("li", {}, line)); });
    if (lines.length > 10) ul.className += " many";
    box.appendChild(ul);
    if (p.voters) {
      var d = el("details", { "class": "vote-names" });
      d.appendChild(el("summary", {}, I.named_list));
      var t = el("table", { "class": "people" }), tb = el("tbody");
      p.voters.forEach(function (v) {
        var tr = el("tr", { "data-participant": v.participant_id });
        tr.appendChild(el("td", {}, v.name));
        tr.appendChild(el("td", {}, v.choice_label + (v.proxy ? " (" + I.proxy + ")" : "")));
        tb.appendChild(tr);
      });
      t.appendChild(tb); d.appendChild(t); box.appendChild(d);
    }
    return box;
  }

  // What the ballot says, in words: the confirmation question and, after the ack, "Đã ghi nhận: …".
  function choiceLabel(p, c) {
    if (p.kind === "election") {
      return c && c.length ? p.candidates.filter(function (x) { return c.indexOf(x.key) >= 0; })
        .map(function (x) { return x.name; }).join(", ") : I.blank_ballot;
    }
    if (p.kind === "confidence_rating") {
      if (!c || !Object.keys(c).length) return I.blank_ballot;
      return p.officials.map(function (o) {
        var lv = p.levels.filter(function (l) { return l.key === c[o.key]; })[0];
        return o.name + ": " + (lv ? lv.label : I.not_rated);
      }).join("; ");
    }
    return (p.options.filter(function (o) { return o.key === c; })[0] || {}).label || "";
  }

  // Whether the ballot is what the delegate means (Xác nhận enabled), and whether it needs a second, explicit
  // confirmation: a blank or partly blank secret ballot counts as invalid (domain/voting.py validate_choice).
  function readiness(p) {
    var c = draft[p.id];
    if (p.kind === "election") {
      if (blank[p.id]) return { ready: true, warn: I.blank_warning };
      return { ready: !!(c && c.length) };
    }
    if (p.kind === "confidence_rating") {
      if (blank[p.id]) return { ready: true, warn: I.blank_warning };
      var n = Object.keys(c || {}).length;
      if (!n) return { ready: false };
      var left = p.officials.filter(function (o) { return !(c || {})[o.key]; }).map(function (o) { return o.name; });
      return { ready: true, warn: left.length ? fmt(I.partial_warning, { names: left.join(", ") }) : null };
    }
    return { ready: !!c };
  }

  function ballot(p) {
    var box = el("div", { "class": "vote-ballot", "data-ballot": p.id });
    var c = draft[p.id];
    var off = !L.online();
    function option(attrs, on, text) {
      attrs["class"] = "button vote-option" + (attrs["class"] ? " " + attrs["class"] : "") + (on ? " chosen" : "");
      attrs["aria-pressed"] = String(on);
      attrs.type = "button";
      var b = el("button", attrs, text);
      if (off || pending[p.id]) b.disabled = true;
      return b;
    }
    if (p.kind === "election") {
      c = draft[p.id] = c || [];
      box.appendChild(el("p", { "class": "vote-instruction" }, fmt(I.pick_up_to, { seats: p.seats })));
      p.candidates.forEach(function (x) {
        var on = c.indexOf(x.key) >= 0;
        box.appendChild(option({ "data-pick": x.key }, on, (on ? "☑ " : "☐ ") + x.name));
        // Too many names: said right under the name that was refused, where the finger is.
        if (over[p.id] === x.key) {
          box.appendChild(el("p", { "class": "vote-over", "role": "alert", "data-bind": "vote_over" },
            fmt(I.too_many, { seats: p.seats })));
        }
      });
      box.appendChild(el("p", { "class": "vote-count", "data-bind": "vote_count" },
        fmt(I.picked_of, { n: c.length, seats: p.seats })));
      box.appendChild(option({ "data-blank": p.id, "class": "vote-blank" }, !!blank[p.id], I.blank_choice));
    } else if (p.kind === "confidence_rating") {
      c = draft[p.id] = c || {};
      p.officials.forEach(function (o) {
        var row = el("div", { "class": "vote-rate-row" });
        row.appendChild(el("p", { "class": "vote-rate-name" }, o.name));
        p.levels.forEach(function (lv) {
          row.appendChild(option({ "class": "small", "data-rate": o.key, "data-level": lv.key }, c[o.key] === lv.key,
            lv.label));
        });
        box.appendChild(row);
      });
      box.appendChild(option({ "data-blank": p.id, "class": "vote-blank" }, !!blank[p.id], I.blank_choice));
    } else {
      p.options.forEach(function (o) {
        box.appendChild(option({ "data-choice": o.key }, c === o.key, o.label));
      });
    }
    var r = readiness(p);
    if (second[p.id] && r.warn) {
      // The second, explicit confirmation of a ballot that will count as invalid (wholly or for some names).
      var w = el("div", { "class": "vote-second", "role": "alertdialog", "data-bind": "vote_second" });
      w.appendChild(el("p", { "class": "vote-second-text" }, r.warn));
      var yes = el("button", { "class": "button primary vote-confirm", "data-confirm-final": p.id, "type": "button" },
        pending[p.id] ? I.sending : I.send_anyway);
      var back = el("button", { "class": "button vote-back", "data-confirm-back": p.id, "type": "button" }, I.back_to_ballot);
      if (off || pending[p.id]) yes.disabled = true;
      w.appendChild(yes); w.appendChild(back);
      box.appendChild(w);
    } else {
      box.appendChild(el("p", { "class": "vote-confirm-q", "data-bind": "vote_confirm_q" }, r.ready
        ? fmt(I.confirm_question, { choice: choiceLabel(p, blank[p.id] ? null : c) })
        : (p.kind === "election" ? I.choose_first_election : I.choose_first)));
      var b = el("button", { "class": "button primary vote-confirm", "data-confirm": p.id, "type": "button" },
        pending[p.id] ? I.sending : I.confirm);
      if (!r.ready || pending[p.id] || off) b.disabled = true;
      box.appendChild(b);
    }
    // Connected, but the server waits for its database or the other processes (live.js's `waiting`): say that.
    var waitingServer = document.body.classList.contains("is-waiting");
    if (off) box.appendChild(el("p", { "class": "vote-error", "role": "alert" },
                                waitingServer ? I.waiting_wait : I.offline_wait));
    if (message[p.id]) box.appendChild(el("p", { "class": "vote-error", "role": "alert" }, message[p.id]));
    return box;
  }

  function recordedLine(p, got) {
    var text = got.label ? fmt(I.recorded_as, { choice: got.label }) : I.recorded;
    if (!got.label && got.choice && p.kind === "open") text = fmt(I.recorded_as, { choice: choiceLabel(p, got.choice) });
    return el("p", { "class": "vote-recorded", "data-bind": "vote_recorded", "role": "status" }, "✓ " + text);
  }

  function delegateView(p) {
    var box = el("div");
    box.appendChild(head(p));
    if (p.state === "open") {
      box.appendChild(progressLine(p));
      var cd = countdown(p); if (cd) box.appendChild(cd);
      if (!isDelegate) {
        // Said to a guest's phone; the projector speaks to the whole room and says nothing of the kind.
        if (!document.body.classList.contains("kiosk")) box.appendChild(el("p", { "class": "hint" }, I.not_eligible_here));
        return box;
      }
      var got = mine[p.id];
      if (got && got.voted && !changing[p.id]) {
        // What was recorded, from the server's ack; the ballot and its question are gone.
        box.appendChild(recordedLine(p, got));
        if (p.allow_change) {
          box.appendChild(el("p", { "class": "hint" }, I.recorded_change));
          var ch = el("button", { "class": "button vote-change", "data-change": p.id, "type": "button" }, I.change);
          if (!L.online()) ch.disabled = true;
          box.appendChild(ch);
        }
        if (message[p.id]) box.appendChild(el("p", { "class": "vote-error", "role": "alert" }, message[p.id]));
      } else {
        if (p.secret) box.appendChild(el("p", { "class": "hint" }, I.secret_note));
        box.appendChild(ballot(p));
      }
    } else if (p.state === "closed" && p.result) {
      box.insertBefore(headline(p), box.firstChild);
      box.appendChild(result(p, document.body.classList.contains("kiosk")));
    } else if (p.state === "cancelled") {
      box.appendChild(el("p", { "class": "vote-cancelled" }, fmt(I.reason, { reason: p.cancel_reason })));
    }
    return box;
  }

  // The delegate's phone: an open vote this delegate has not voted in takes over the screen (live.js), and while
  // it is open a bar at the bottom leads to the ballot and back to the document being read.
  function attention() {
    var p = voting.shown;
    // Only on the delegate's own page: the chair opened the vote himself and votes in the panel beside it.
    var open = !!(p && p.state === "open" && isDelegate && document.body.getAttribute("data-page") === "delegate");
    var waiting = open && !(mine[p.id] && mine[p.id].voted);
    if (waiting) {
      L.takeover({ key: "poll-" + p.id, kind: I.takeover_kind, title: p.title, text: I.takeover_text,
        go: I.takeover_go, target: "vote-panel" });
    } else {
      L.dismissTakeover("poll-*");
    }
    var bar = document.getElementById("jump-bar");
    if (bar) {
      var viewer = document.getElementById("doc-viewer");
      var doc = document.getElementById("jump-doc");
      if (doc) doc.hidden = !viewer || viewer.hidden;
      bar.hidden = !open;
      document.body.classList.toggle("has-jump-bar", open);
    }
  }

  function chairView() {
    var box = el("div");
    var shown = voting.shown;
    if (shown) {
      var cur = el("div", { "class": "vote-current" });
      cur.appendChild(head(shown));
      if (shown.state === "open") {
        cur.appendChild(progressLine(shown));
        var cd = countdown(shown); if (cd) cur.appendChild(cd);
        if (can("vote.can_conduct")) {
          cur.appendChild(el("button", { "class": "button primary", "data-poll-action": "close", "data-poll": shown.id,
            "type": "button" }, I.close_poll));
        }
      } else if (shown.state === "closed" && shown.result) {
        cur.insertBefore(headline(shown), cur.firstChild);
        cur.appendChild(result(shown));
      }
      box.appendChild(cur);
    }
    if (!can("vote.can_manage")) return box;
    var list = el("ol", { "class": "vote-list" });
    (voting.polls || []).forEach(function (p) {
      var li = el("li", { "data-poll-row": p.id });
      li.appendChild(el("span", {}, p.title + " — " + p.kind_label + " · " + (I["state_" + p.state] || p.state)));
      var acts = el("span", { "class": "nowrap" });
      function act(name, label) {
        acts.appendChild(el("button", { "class": "button small", "data-poll-action": name, "data-poll": p.id, "type": "button" }, label));
      }
      if (p.state === "draft" && can("vote.can_conduct")) act("open", I.open_poll);
      if (p.state === "open" && can("vote.can_conduct")) act("close", I.close_poll);
      if ((p.state === "draft" || p.state === "open") && can("vote.can_conduct")) act("cancel", I.cancel_poll);
      if (p.state === "closed" || p.state === "cancelled") act("revote", I.revote);
      if (p.secret && (p.state === "open" || p.state === "closed") && p.kind !== "confidence_rating") act("paper", I.paper);
      li.appendChild(acts);
      list.appendChild(li);
    });
    if (!(voting.polls || []).length) box.appendChild(el("p", { "class": "hint" }, I.no_polls));
    box.appendChild(list);
    return box;
  }

  function render() {
    panels.forEach(function (panel) {
      var kind = panel.dataset.votePanel;
      var section = panel.closest("section");
      panel.innerHTML = "";
      var p = voting.shown;
      if (kind === "chair") {
        panel.appendChild(chairView());
        if (section) section.hidden = false;
        return;
      }
      // On the chair's console the ballot shows only while a vote is open: the result is in the chair's panel.
      if (panel.hasAttribute("data-ballot-only") && p && p.state !== "open") p = null;
      if (section) section.hidden = !p;
      // The projector: a vote on screen covers the page and the idle screen (documents.css says who shows when).
      if (kind === "kiosk") document.body.classList.toggle("kiosk-voting", !!p);
      if (p) panel.appendChild(delegateView(p));
      if (kind === "kiosk") fitKiosk(panel);
    });
    attention();
    syncPollForm();
  }
  L.on("connection", function () { render(); });

  // The projector shows the whole result on one 1920x1080 screen: what does not fit is scaled down until it
  // does (a confidence rating of 20 officials, an election with many candidates), never cut off.
  function fitKiosk(panel) {
    var stage = panel.closest(".kiosk-vote");
    if (!stage || stage.hidden) return;
    panel.style.transform = ""; panel.style.height = "";
    var room = stage.clientHeight - 2 * parseFloat(getComputedStyle(stage).paddingTop || 0);
    var need = panel.scrollHeight;
    if (need <= room || room <= 0) return;
    // Scaled as a whole, lines unchanged (a wider reflow would change the height the factor was taken from).
    panel.style.transformOrigin = "top center";
    panel.style.transform = "scale(" + (room / need) + ")";
    panel.style.height = room + "px";  // its box takes the screen's height: the stage has nothing to scroll
  }
  window.addEventListener("resize", function () {
    Array.prototype.forEach.call(document.querySelectorAll('[data-vote-panel="kiosk"]'), fitKiosk);
  });

  /* ---------- actions ---------- */

  function cast(p) {
    var c = draft[p.id];
    if (blank[p.id]) c = p.kind === "election" ? [] : {};
    var label = choiceLabel(p, c);
    pending[p.id] = true; delete message[p.id]; render();
    L.socket.timeout(15000).emit("cast", { poll_id: p.id, choice: c }, function (err, res) {
      pending[p.id] = false;
      if (err || !res) { message[p.id] = I.not_sent; }
      else if (res.ok) {
        // Only now, after the server's ack (the ballot is on disk), does the screen say what was recorded.
        mine[p.id] = { voted: true, choice: p.kind === "open" ? c : undefined, label: label };
        second[p.id] = false; changing[p.id] = false;
      }
      else { message[p.id] = res.error; if (res.code === "vote.already_voted") mine[p.id] = { voted: true }; }
      render();
    });
  }

  function byId(id) {
    var all = [voting.shown].concat(voting.polls || []);
    return all.filter(function (p) { return p && p.id === id; })[0];
  }

  document.addEventListener("click", function (ev) {
    var t = ev.target.closest("button"); if (!t) return;
    var p = voting.shown;
    if (p && (t.dataset.choice || t.dataset.pick || t.dataset.rate || t.dataset.blank)) {
      second[p.id] = false; delete over[p.id]; delete message[p.id];
    }
    if (t.dataset.choice && p) { draft[p.id] = t.dataset.choice; render(); }
    else if (t.dataset.pick && p) {
      var c = draft[p.id] || [], i = c.indexOf(t.dataset.pick);
      if (i >= 0) c.splice(i, 1);
      else if (c.length >= p.seats) over[p.id] = t.dataset.pick;   // stopped here, with the reason under the name
      else c.push(t.dataset.pick);
      draft[p.id] = c; blank[p.id] = false; render();
    } else if (t.dataset.rate && p) {
      var r = draft[p.id] || {};
      if (r[t.dataset.rate] === t.dataset.level) delete r[t.dataset.rate]; else r[t.dataset.rate] = t.dataset.level;
      draft[p.id] = r; blank[p.id] = false; render();
    } else if (t.dataset.blank && p) {
      blank[p.id] = !blank[p.id];
      if (blank[p.id]) draft[p.id] = p.kind === "election" ? [] : {};
      render();
    } else if (t.dataset.confirm && p) {
      if (readiness(p).warn) { second[p.id] = true; render(); } else cast(p);
    } else if (t.dataset.confirmFinal && p) { cast(p); }
    else if (t.dataset.confirmBack && p) { second[p.id] = false; render(); }
    else if (t.dataset.change && p) {
      changing[p.id] = true;
      if (draft[p.id] === undefined && mine[p.id] && mine[p.id].choice) draft[p.id] = mine[p.id].choice;
      render();
    }
    else if (t.dataset.pollAction) { pollAction(t.dataset.pollAction, byId(Number(t.dataset.poll))); }
  });

  function presenting() {
    var pr = L.state().presented;
    return !!(pr && pr.document_id);
  }

  function pollAction(name, p) {
    if (!p) return;
    if (name === "open") {
      // Opening takes the presented document off the screens (the server's rule) unless the chair keeps it.
      var fields = [{ name: "countdown", label: I.countdown_label, type: "number", min: 5, max: 3600,
        hint: I.countdown_hint }];
      if (presenting()) fields.push({ name: "keep", label: I.keep_presentation, type: "checkbox" });
      window.Dialog.ask({ title: fmt(I.open_title, { title: p.title }), fields: fields, ok: I.open_poll },
        function (v) {
          if (!v) return;
          var body = {};
          if (v.countdown !== null) body.countdown = v.countdown;
          if (v.keep) body.keep_presentation = true;
          api("POST", "/polls/" + p.id + "/open", body).catch(fail);
        });
    } else if (name === "close") {
      api("POST", "/polls/" + p.id + "/close").catch(fail);
    } else if (name === "cancel") {
      window.Dialog.prompt(I.cancel_prompt, function (reason) {
        if (reason) api("POST", "/polls/" + p.id + "/cancel", { reason: reason }).catch(fail);
      }, { title: fmt(I.cancel_title, { title: p.title }), label: I.cancel_prompt, required: true, maxlength: 500,
        ok: I.cancel_poll_ok, danger: true });
    } else if (name === "revote") {
      api("POST", "/polls/" + p.id + "/revote").catch(fail);
    } else if (name === "paper") {
      paperForm(p);
    }
  }

  // The counting committee's record (biên bản kiểm phiếu), typed into one number field per figure and per choice.
  function paperForm(p) {
    var choices = p.kind === "election" ? p.candidates.map(function (x) { return { key: x.key, label: x.name }; })
      : p.options.map(function (o) { return { key: o.key, label: o.label }; });
    var before = p.paper || {};
    var fields = [
      { name: "issued", label: I.paper_issued, type: "number", min: 0, required: true, value: before.issued },
      { name: "returned", label: I.paper_returned, type: "number", min: 0, required: true, value: before.returned },
      { name: "invalid", label: I.paper_invalid, type: "number", min: 0, value: before.invalid }
    ];
    choices.forEach(function (c) {
      fields.push({ name: "c:" + c.key, label: fmt(I.paper_votes_for, { choice: c.label }), type: "number", min: 0,
        value: (before.counts || {})[c.key] });
    });
    window.Dialog.ask({ title: fmt(I.paper_title, { title: p.title }), text: I.paper_text, fields: fields,
      ok: I.paper_save }, function (v) {
      if (!v) return;
      var counts = {};
      choices.forEach(function (c) { counts[c.key] = v["c:" + c.key] || 0; });
      api("POST", "/polls/" + p.id + "/paper", { issued: v.issued, returned: v.returned, invalid: v.invalid || 0,
        counts: counts }).catch(fail);
    });
  }

  var form = document.querySelector("[data-vote-form]");
  var itemTouched = false;  // the chair chose an item in the form: a move of the sitting no longer changes it

  // The new-poll form starts on the item being discussed, its list the agenda as it stands now.
  function syncPollForm() {
    if (!form) return;
    var sel = form.querySelector('[name="agenda_item_id"]');
    var st = L.state(), keep = sel.value;
    var first = sel.options[0], last = sel.options[sel.options.length - 1];
    sel.innerHTML = "";
    sel.appendChild(first);
    (st.agenda || []).forEach(function (it) {
      sel.appendChild(el("option", { value: String(it.id) }, it.position + ". " + it.title));
    });
    sel.appendChild(last);
    if (!itemTouched && st.current_item_id) sel.value = String(st.current_item_id);
    else sel.value = keep;
    if (sel.selectedIndex < 0) sel.value = "";
  }
  if (form) {
    var kindSel = form.querySelector('[name="kind"]');
    var showFields = function () {
      Array.prototype.forEach.call(form.querySelectorAll("[data-for-kind]"), function (l) {
        l.hidden = l.dataset.forKind.split(",").indexOf(kindSel.value) < 0;
      });
    };
    kindSel.addEventListener("change", showFields); showFields();
    form.querySelector('[name="agenda_item_id"]').addEventListener("change", function () { itemTouched = true; });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var f = form.elements;
      var lines = function (name) { return f[name].value.split("\n").map(function (x) { return x.trim(); }).filter(Boolean); };
      var body = { kind: f.kind.value, title: f.title.value, threshold: f.threshold.value,
        allow_change: f.allow_change.checked };
      // Left empty, the server files the poll under the item being discussed; "none": under no item.
      if (f.agenda_item_id.value === "none") body.agenda_item_id = null;
      else if (f.agenda_item_id.value) body.agenda_item_id = Number(f.agenda_item_id.value);
      if (body.kind === "election") { body.seats = Number(f.seats.value); body.candidates = lines("candidates"); }
      if (body.kind === "confidence_rating" || body.kind === "confidence_vote") body.officials = lines("officials");
      api("POST", "/meetings/" + L.state().meeting.id + "/polls", body)
        .then(function () { form.reset(); itemTouched = false; showFields(); syncPollForm(); }).catch(fail);
    });
  }

  setInterval(function () {
    var p = voting.shown;
    if (p && p.state === "open" && deadline[p.id]) {
      Array.prototype.forEach.call(document.querySelectorAll('[data-countdown="' + p.id + '"]'), function (e) {
        e.textContent = fmt(I.time_left, { s: Math.max(0, Math.ceil((deadline[p.id] - Date.now()) / 1000)) });
      });
    }
  }, 500);

  setShown(voting.shown);
  render();
})();
