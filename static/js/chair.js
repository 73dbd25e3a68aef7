/* The chair's tablet: tabs for running the sitting, the vote, the speakers, the documents and the delegates; each
   tab says what is live behind it (a vote open, a document on the projector, people waiting to speak). On a wide
   screen (a landscape tablet) the vote has a column of its own and its tab is not needed. When a vote opens, a
   narrow screen turns to it: the chair votes too. Shows what the server sent; decides nothing. */
(function () {
  "use strict";
  if (!window.Live) return;
  var L = window.Live;
  var layout = document.querySelector(".chair-layout");
  if (!layout) return;
  var C = JSON.parse(document.getElementById("i18n-chair").textContent);
  var tabs = Array.prototype.slice.call(layout.querySelectorAll("[role=tab]"));
  var wide = window.matchMedia ? window.matchMedia("(min-width: 1000px)") : { matches: false };
  var speakers = L.state().speakers || null;
  var lastOpen = null;  // the id of the open vote the screen last turned to

  var chosen = "run";   // the tab the chair chose; kept across a turn of the tablet

  function show(name) {
    chosen = name;
    if (wide.matches && name === "vote") name = "run";  // the vote has its own column there
    layout.setAttribute("data-tab", name);
    tabs.forEach(function (t) {
      var on = t.getAttribute("data-tab") === name;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
    });
  }

  function badge(name, text) {
    var b = layout.querySelector('[data-tab-badge="' + name + '"]');
    if (!b) return;
    b.textContent = text || "";
    b.hidden = !text;
  }

  function update() {
    var st = L.state();
    var shown = st.voting && st.voting.shown;
    badge("vote", shown && shown.state === "open" ? C.vote_open : "");
    if (shown && shown.state === "open" && shown.id !== lastOpen) {
      lastOpen = shown.id;
      if (!wide.matches) show("vote");
    }
    var presenting = !!(st.presented && st.presented.document_id);
    badge("docs", presenting ? C.presenting : "");
    Array.prototype.forEach.call(document.querySelectorAll("[data-show-presenting]"), function (e) {
      e.hidden = !presenting;
    });
    var sp = speakers || {};
    var waiting = (sp.queue || []).length;
    badge("speakers", sp.speaking ? C.speaking : (waiting ? L.fmt(C.waiting, { n: waiting }) : ""));
  }

  layout.addEventListener("click", function (e) {
    var t = e.target.closest("[role=tab]");
    if (t) show(t.getAttribute("data-tab"));
  });
  layout.querySelector("[role=tablist]").addEventListener("keydown", function (e) {
    var visible = tabs.filter(function (t) { return t.offsetParent !== null; });
    var i = visible.indexOf(document.activeElement);
    if (i < 0) return;
    var k = e.key || "";
    if (k === "ArrowRight" || k === "ArrowLeft") {
      e.preventDefault();
      var next = visible[(i + (k === "ArrowRight" ? 1 : visible.length - 1)) % visible.length];
      next.focus(); show(next.getAttribute("data-tab"));
    }
  });
  if (wide.addListener) wide.addListener(function () { show(chosen); });

  L.on("state", function (st) { speakers = st.speakers || speakers; update(); });
  L.on("render", update);
  L.socket.on("poll", function () { setTimeout(update, 0); });
  L.socket.on("presented", function () { setTimeout(update, 0); });
  L.socket.on("speakers", function (p) { speakers = p; update(); });
  show("run");
  update();
})();
