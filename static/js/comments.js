/* Comments on drafts (góp ý dự thảo) in the reader: a text layer of the page's words over the page image, so a
   delegate marks a passage by tapping words (phones without text selection) or selecting them; then the comment
   goes to the server with the page, the quoted words and their boxes in PDF points. The delegate's own comments
   (and the others' when the meeting shares them) with their answers are listed below. Plain ES5. */
(function () {
  "use strict";
  if (!window.Live || !window.DocView) return;
  var Live = window.Live;
  var $ = function (id) { return document.getElementById(id); };
  var me = Live.state().me || {};
  var perms = me.permissions || [];
  if (perms.indexOf("comment.can_write") < 0 || me.participant_id === null || !$("cm-panel")) return;
  var T = JSON.parse($("i18n-comments").textContent);
  var fmt = Live.fmt;
  var marking = false;
  var words = null;      // {width, height, words: [[x0, y0, x1, y1, text, line]]} of the page shown
  var wordsFor = "";     // "doc:page" the words belong to
  var layer = null;

  function csrf() { var m = document.querySelector('meta[name="csrf-token"]'); return m ? m.content : ""; }
  function cur() { return window.DocView.current(); }
  function status(text) { $("cm-status").textContent = text || ""; }

  function ensureLayer() {
    var stage = $("doc-stage");
    if (!layer) {
      layer = document.createElement("div");
      layer.id = "cm-layer";
      layer.className = "cm-layer";
      stage.appendChild(layer);
      layer.addEventListener("click", function (ev) {
        var w = ev.target;
        if (!w.getAttribute || w.getAttribute("data-w") === null) return;
        var on = layer.querySelectorAll("[data-w].on");
        if (on.length === 1 && !w.classList.contains("on")) {
          // The first and the last word of a passage: every word between them, in reading order.
          var a = Number(on[0].getAttribute("data-w")), b = Number(w.getAttribute("data-w"));
          var spans = layer.querySelectorAll("[data-w]");
          for (var i = Math.min(a, b); i <= Math.max(a, b); i++) spans[i].classList.add("on");
        } else {
          w.classList.toggle("on");  // one word more or less
        }
        refreshQuote();
      });
      layer.addEventListener("mouseup", fromSelection);
      layer.addEventListener("touchend", function () { setTimeout(fromSelection, 0); });
    }
    var img = $("doc-img");
    layer.style.left = img.offsetLeft + "px";
    layer.style.top = img.offsetTop + "px";
    layer.style.width = img.offsetWidth + "px";
    layer.style.height = img.offsetHeight + "px";
    return layer;
  }

  function fromSelection() {
    var sel = window.getSelection ? window.getSelection() : null;
    if (!sel || sel.isCollapsed || !sel.rangeCount || !layer) return;
    var range = sel.getRangeAt(0);
    var spans = layer.querySelectorAll("[data-w]");
    for (var i = 0; i < spans.length; i++) {
      if (range.intersectsNode(spans[i])) spans[i].classList.add("on");
    }
    sel.removeAllRanges();
    refreshQuote();
  }

  function drawWords() {
    var l = ensureLayer();
    l.innerHTML = "";
    l.hidden = !marking;
    if (!marking || !words) return;
    if (!words.words.length) { status(T.no_words); return; }
    var W = words.width, H = words.height;
    words.words.forEach(function (w, i) {
      var s = document.createElement("span");
      s.setAttribute("data-w", String(i));
      s.textContent = w[4] + " ";
      s.style.left = (100 * w[0] / W) + "%";
      s.style.top = (100 * w[1] / H) + "%";
      s.style.width = (100 * (w[2] - w[0]) / W) + "%";
      s.style.height = (100 * (w[3] - w[1]) / H) + "%";
      l.appendChild(s);
    });
    status("");
  }

  function marked() {
    if (!layer || !words) return [];
    var out = [];
    var spans = layer.querySelectorAll("[data-w].on");
    for (var i = 0; i < spans.length; i++) out.push(Number(spans[i].getAttribute("data-w")));
    out.sort(function (a, b) { return a - b; });
    return out;
  }

  function passage() {
    // The quote in reading order, and one box per line of text it covers.
    var idx = marked();
    var quote = [], rects = [], byLine = {};
    idx.forEach(function (i) {
      var w = words.words[i];
      quote.push(w[4]);
      var r = byLine[w[5]];
      if (!r) { r = byLine[w[5]] = [w[0], w[1], w[2], w[3]]; rects.push(r); }
      else { r[0] = Math.min(r[0], w[0]); r[1] = Math.min(r[1], w[1]); r[2] = Math.max(r[2], w[2]); r[3] = Math.max(r[3], w[3]); }
    });
    return { quote: quote.join(" "), rects: rects.slice(0, 40) };
  }

  function refreshQuote() {
    var p = passage();
    var q = $("cm-quote");
    q.hidden = !p.quote;
    q.textContent = p.quote ? fmt(T.marked, { page: cur().page, quote: p.quote }) : "";
    $("cm-send-passage").disabled = !p.quote;
    $("cm-clear").hidden = !p.quote;
  }

  function loadWords() {
    var c = cur();
    if (c.doc === null) return;
    var key = c.doc + ":" + c.page;
    if (wordsFor === key && words) { drawWords(); return; }
    words = null; wordsFor = key;
    status(T.loading);
    fetch("/api/v1/documents/" + c.doc + "/pages/" + c.page + "/words", { credentials: "same-origin" })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
      .then(function (res) {
        if (wordsFor !== key) return;
        if (!res.ok) { status(res.j.message || T.failed); return; }
        words = res.j; drawWords(); refreshQuote();
      }, function () { status(T.failed); });
  }

  function setMarking(on) {
    marking = on;
    $("cm-mark").setAttribute("aria-pressed", on ? "true" : "false");
    if (on) loadWords(); else drawWords();
  }

  function send(scope) {
    var c = cur();
    if (c.doc === null) return;
    var body = { text: $("cm-text").value, page: null, quote: "", rects: [] };
    if (scope !== "document") body.page = c.page;
    if (scope === "passage") { var p = passage(); body.quote = p.quote; body.rects = p.rects; }
    status(T.sending);
    fetch("/api/v1/documents/" + c.doc + "/comments", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(body)
    }).then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
      .then(function (res) {
        if (!res.ok) { status(res.j.message || T.failed); return; }
        status(T.sent);
        $("cm-text").value = "";
        var on = layer ? layer.querySelectorAll("[data-w].on") : [];
        for (var i = 0; i < on.length; i++) on[i].classList.remove("on");
        refreshQuote();
        loadList();
      }, function () { status(T.failed); });
  }

  function where(c) {
    if (c.page === null) return T.whole_document;
    if (c.quote_hidden) return fmt(T.hidden_quote, { page: c.page });
    if (!c.quote) return fmt(T.whole_page, { page: c.page });
    return fmt(T.passage, { page: c.page, quote: c.quote });
  }

  function loadList() {
    var c = cur();
    if (c.doc === null) return;
    var docId = c.doc;
    fetch("/api/v1/comments?document_id=" + docId, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (j) {
        if (cur().doc !== docId) return;
        var ul = $("cm-list");
        ul.innerHTML = "";
        var items = j.comments || [];
        if (!items.length) { var e = document.createElement("li"); e.className = "hint"; e.textContent = T.none; ul.appendChild(e); }
        items.forEach(function (it) {
          var li = document.createElement("li");
          li.className = "cm-item" + (it.own ? " own" : "");
          li.setAttribute("data-comment", String(it.id));
          var head = document.createElement("p"); head.className = "cm-where";
          head.textContent = where(it) + " · " + (it.own ? T.mine : fmt(T.by, { name: it.author }));
          var body = document.createElement("p"); body.className = "cm-text"; body.textContent = it.text;
          var ans = document.createElement("p"); ans.className = "cm-answer" + (it.outcome ? " " + it.outcome : "");
          ans.textContent = it.outcome ? fmt(T.answer, { outcome: it.outcome_label, answer: it.answer }) : T.pending;
          li.appendChild(head); li.appendChild(body); li.appendChild(ans);
          ul.appendChild(li);
        });
      });
  }

  function onShow() {
    $("cm-panel").hidden = false;
    words = marking ? words : null;
    if (marking) loadWords(); else drawWords();
    refreshQuote();
    loadList();
  }

  window.DocView.onShow(onShow);
  $("doc-img").addEventListener("load", function () { if (layer) ensureLayer(); });
  window.addEventListener("resize", function () { if (layer) ensureLayer(); });
  $("cm-mark").addEventListener("click", function () { setMarking(!marking); });
  $("cm-clear").addEventListener("click", function () {
    var on = layer ? layer.querySelectorAll("[data-w].on") : [];
    for (var i = 0; i < on.length; i++) on[i].classList.remove("on");
    refreshQuote();
  });
  $("cm-send-passage").addEventListener("click", function () { send("passage"); });
  $("cm-send-page").addEventListener("click", function () { send("page"); });
  $("cm-send-doc").addEventListener("click", function () { send("document"); });
  if (cur().doc !== null) onShow();
})();
