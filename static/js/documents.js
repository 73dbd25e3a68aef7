/* Documents: the reader that follows the presenter, the presenter's controls, the projector stage and the clerk's
   uploads. Plain ES5 for old Android Chrome and iPad Safari; no build step. The server decides who sees what; this
   file shows what it sent. */
(function () {
  "use strict";
  if (!window.Live) return;
  var Live = window.Live;
  var socket = Live.socket;
  var page = document.body.getAttribute("data-page");
  var $ = function (id) { return document.getElementById(id); };
  var T = {};
  var t1 = $("i18n-documents"); if (t1) T = JSON.parse(t1.textContent);
  var TC = {};
  var t2 = $("i18n-documents-clerk"); if (t2) TC = JSON.parse(t2.textContent);
  var fmtText = Live.fmt;
  var el = Live.el;

  var me = Live.state().me;
  var perms = me.permissions || [];
  var canNotes = perms.indexOf("notes.can_write") >= 0 && me.participant_id !== null;
  var meetingId = Live.state().meeting.id;

  // WebP where the browser draws it (iPad Safari before iOS 14 does not): JPEG otherwise.
  var FMT = (function () {
    try {
      var c = document.createElement("canvas"); c.width = c.height = 1;
      return c.toDataURL("image/webp").indexOf("data:image/webp") === 0 ? "webp" : "jpeg";
    } catch (e) { return "jpeg"; }
  })();

  var follow = true;
  var view = { doc: null, page: 1 };   // what this screen shows
  var zoom = 1;
  // "Cả trang": the whole page fits the reader's box (a tablet or laptop held landscape shows all of it at once);
  // otherwise the page fills the box's width and scrolls inside it. Each device remembers its reader's choice.
  var fitPage = false;
  try { fitPage = window.localStorage.getItem("docs.fit") === "page"; } catch (e) { /* private mode: the default */ }
  var notesCache = {};
  // Reading mode: the page's text instead of its image; each device remembers its reader's choice.
  var reading = false;
  try { reading = window.localStorage.getItem("docs.mode") === "text"; } catch (e) { /* the default: images */ }
  var textCache = {};   // "doc:page" -> the server's answer, for pages whose text is final (not a pending scan)
  var textTimer = null;
  // What the reader shows, for the comments panel (comments.js): it marks passages on this page.
  var shownListeners = [];
  window.DocView = {
    current: function () { return { doc: view.doc, page: view.page, info: view.doc !== null ? docById(view.doc) : null }; },
    onShow: function (fn) { shownListeners.push(fn); }
  };

  function docs() { return Live.state().documents || []; }
  function docById(id) { return docs().filter(function (d) { return d.id === id; })[0] || null; }
  function presented() { return Live.state().presented || { document_id: null, page: null }; }
  // The server's answer for this card (the chair's grant included), from its own `state.me`.
  function canPresent() { return !!(Live.state().me || {}).can_present; }
  function width(big) {
    var stage = $("doc-stage") || $("kiosk-stage");
    var px = (stage ? stage.clientWidth : window.innerWidth) * (window.devicePixelRatio || 1);
    return big || px > 900 ? 1600 : 720;
  }
  // Page image URLs come from the server: each listed document's `page_url` (a signed, shared URL for an ordinary
  // document; the per-viewer route for a confidential one), else the state's `page_route` for a document this
  // screen's list does not hold. Only {page}, {width} and {fmt} are filled in here.
  function imageUrl(docId, n, px) {
    var d = docById(docId);
    var t = (d && d.page_url) || String(Live.state().page_route || "").replace("{id}", String(docId));
    return t.replace("{page}", String(n)).replace("{width}", String(px)).replace("{fmt}", FMT);
  }
  function pageUrl(docId, n, big) { return imageUrl(docId, n, width(big)); }
  function csrf() { var m = document.querySelector('meta[name="csrf-token"]'); return m ? m.content : ""; }
  function say(text) { if (window.Dialog) window.Dialog.tell(text); else alert(text); }
  function ack(res) { if (res && res.ok === false) say(res.error); }

  // --- presented page: one small event for everyone --------------------------------------------------------------
  socket.on("presented", function (p) {
    if (!Live.applySeq(p.seq)) return;
    var before = Live.state().presented || {};
    Live.state().presented = { document_id: p.document_id, page: p.page };
    var lag = Date.now() - p.ts;
    document.body.setAttribute("data-presented-lag", String(lag));
    onPresented();
    // The chair just put a (new) document up: a follower is taken to it, wherever on the page they were.
    if (follow && p.document_id !== null && p.document_id !== before.document_id && view.doc === p.document_id) {
      bringIntoView();
    }
  });
  Live.on("state", function () { onPresented(); renderLists(); });
  socket.on("documents", function (p) {
    if (!Live.applySeq(p.seq)) return;
    Live.state().documents = p.documents;
    renderLists();
    onPresented();
  });

  function onPresented() {
    var pr = presented();
    if (page === "kiosk") { kiosk(pr); return; }
    if (!$("documents")) return;
    if (follow && pr.document_id !== null && docById(pr.document_id)) {
      show(pr.document_id, pr.page);
    }
    chrome();
  }

  // --- the reader ----------------------------------------------------------------------------------------------
  function bringIntoView() {
    // The reader sits below the agenda and the document list: after an action that opens a page, show it.
    var v = $("doc-viewer");
    if (!v || v.hidden) return;
    var r = v.getBoundingClientRect();
    if (r.top >= 0 && r.top < window.innerHeight * 0.3) return;  // already where the eye is
    v.scrollIntoView({ block: "start", behavior: "smooth" });
  }

  function show(docId, n) {
    var d = docById(docId);
    if (!d || d.status !== "ready") return;
    n = Math.max(1, Math.min(d.page_count, n || 1));
    var changedDoc = view.doc !== docId;
    view.doc = docId; view.page = n;
    $("doc-viewer").hidden = false;
    var img = $("doc-img");
    var url = pageUrl(docId, n, zoom > 1);
    // In reading mode the image is not fetched at all (a phone on the room's Wi-Fi saves the bytes).
    if (!reading && img.getAttribute("src") !== url) {
      img.setAttribute("data-loading", "1");
      img.src = url;
    }
    img.setAttribute("data-doc", String(docId));
    img.setAttribute("data-page", String(n));
    img.alt = d.title + " — " + fmtText(T.page_of, { page: n, count: d.page_count });
    $("doc-title").textContent = d.title + (d.confidential ? " · " + T.confidential : "");
    $("doc-pageinfo").textContent = fmtText(T.page_of, { page: n, count: d.page_count });
    $("doc-jump-page").max = d.page_count;
    $("doc-jump-page").value = n;
    if (reading) showText(docId, n); else prefetch(docId, n, d.page_count);
    modeChrome();
    if (changedDoc) { $("doc-thumbs").hidden = true; $("doc-thumbs").innerHTML = ""; }
    var dl = $("doc-download");
    dl.hidden = !d.downloadable;
    if (d.downloadable) $("doc-download-link").href = "/documents/" + d.id + "/original";
    loadNote();
    chrome();
    shownListeners.forEach(function (fn) { fn(docId, n); });
  }

  // --- reading mode: the page's text, reflowed -------------------------------------------------------------------
  function modeChrome() {
    var b = $("doc-read");
    if (!b) return;
    b.setAttribute("aria-pressed", reading ? "true" : "false");
    b.textContent = reading ? T.image_mode : T.read_mode;
    $("doc-stage").hidden = reading;
    $("doc-text").hidden = !reading;
    // Zoom is the image's: the text is already in the phone's own large type.
    var zoomers = document.querySelectorAll('#doc-viewer [data-doc="zoom-in"], #doc-viewer [data-doc="zoom-out"], #doc-fit');
    for (var i = 0; i < zoomers.length; i++) zoomers[i].hidden = reading;
    if (!reading) { clearTimeout(textTimer); }
  }

  function setReading(on) {
    reading = on;
    try { window.localStorage.setItem("docs.mode", on ? "text" : "image"); } catch (e) { /* not kept */ }
    if (view.doc !== null) show(view.doc, view.page); else modeChrome();
  }

  function showText(docId, n) {
    var box = $("doc-text");
    clearTimeout(textTimer);
    var key = docId + ":" + n;
    if (box.getAttribute("data-key") === key && !box.getAttribute("data-pending")) return;
    if (textCache[key]) { fillText(box, key, textCache[key]); return; }
    if (box.getAttribute("data-key") !== key) {
      box.innerHTML = "";
      box.appendChild(el("p", { "class": "docs-text-note" }, T.text_loading));
      box.setAttribute("data-key", key);
      box.removeAttribute("data-doc"); box.removeAttribute("data-page");
    }
    fetch("/api/v1/documents/" + docId + "/pages/" + n + "/text", { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (j) {
        // Only answers that are final are kept; none is ever written to storage (confidential text included).
        if (j.source !== "pending") textCache[key] = j;
        if (reading && view.doc === docId && view.page === n) fillText(box, key, j);
      }, function () {
        if (!(reading && view.doc === docId && view.page === n)) return;
        box.innerHTML = "";
        box.appendChild(el("p", { "class": "docs-text-note", role: "alert" }, T.text_failed));
      });
  }

  function fillText(box, key, j) {
    // A new page while the reader was down in the old one's text: start reading it from its top.
    var turned = box.getAttribute("data-shown") !== key;
    box.setAttribute("data-shown", key);
    box.setAttribute("data-key", key);
    fillBlocks(box, j);
    if (turned && box.getBoundingClientRect().top < 0) box.scrollIntoView({ block: "start" });
  }

  function fillBlocks(box, j) {
    box.innerHTML = "";
    box.setAttribute("data-doc", String(j.document_id));
    box.setAttribute("data-page", String(j.page));
    box.setAttribute("data-source", j.source);
    box.removeAttribute("data-pending");
    if (j.source === "pending") {
      // A scanned page still being read by the server: ask again in a few seconds while it is on screen.
      box.setAttribute("data-pending", "1");
      box.appendChild(el("p", { "class": "docs-text-note" }, T.text_pending));
      textTimer = setTimeout(function () {
        if (reading && view.doc === j.document_id && view.page === j.page) showText(j.document_id, j.page);
      }, 4000);
      return;
    }
    if (!j.blocks || !j.blocks.length) { box.appendChild(el("p", { "class": "docs-text-note" }, T.text_none)); return; }
    if (j.source === "ocr") box.appendChild(el("p", { "class": "docs-text-note" }, T.text_ocr));
    j.blocks.forEach(function (b) { box.appendChild(el(b.k === "h" ? "h3" : "p", {}, b.t)); });
  }

  function prefetch(docId, n, count) {
    // The neighbours, so a swipe shows the next page at once.
    [n + 1, n - 1].forEach(function (k) {
      if (k >= 1 && k <= count) { var im = new Image(); im.src = pageUrl(docId, k, zoom > 1); }
    });
  }

  function chrome() {
    if (!$("documents")) return;
    var pr = presented();
    var d = pr.document_id !== null ? docById(pr.document_id) : null;
    var info = $("doc-presenting");
    info.hidden = false;
    info.textContent = d ? fmtText(T.presenting, { title: d.title, page: pr.page }) : T.nothing_presented;
    info.classList.toggle("idle", !d);
    var live = onRoomPage();  // the reader shows the page the room sees
    $("doc-return").hidden = !(d && (!live || !follow));
    $("doc-follow").checked = follow;
    $("doc-present").hidden = !(canPresent() && view.doc !== null);
    // The presenter sees whether the page in front of them is the one the room sees.
    var presentBtn = document.querySelector('#doc-present [data-doc="present"]');
    presentBtn.disabled = live;
    presentBtn.textContent = live ? T.presenting_this : T.present_this;
    $("doc-live-hint").hidden = !presentingLive();
    var vd = view.doc !== null ? docById(view.doc) : null;
    $("doc-projector-wrap").hidden = !(vd && vd.projector_switch);
    $("doc-notes").hidden = !(canNotes && view.doc !== null);
    grantPanel();
  }

  // The presenter reading the page the room sees: ◀ ▶ and a swipe turn the room's page, as a presenter expects.
  // Page jump and thumbnails stay private (to look ahead); "Trình bày trang này" puts up what they show.
  function onRoomPage() {
    var pr = presented();
    return pr.document_id !== null && view.doc === pr.document_id && view.page === pr.page;
  }

  function presentingLive() { return canPresent() && follow && onRoomPage(); }

  function turn(delta) {
    var d = docById(view.doc);
    if (!d) return;
    var n = Math.max(1, Math.min(d.page_count, view.page + delta));
    if (presentingLive()) { if (n !== view.page) present(view.doc, n, { step: delta }); return; }
    browse(view.doc, n);
  }

  function browse(docId, n) {
    // Any page the reader picks themselves: stop following; the return button brings them back.
    follow = false;
    show(docId, n);
  }

  function renderLists() {
    var list = $("doc-list");
    if (list) {
      list.innerHTML = "";
      var s = Live.state();
      var all = docs().filter(function (d) { return d.status === "ready"; });
      if (!all.length) list.appendChild(el("p", { "class": "hint" }, T.no_documents));
      var groups = (s.agenda || []).map(function (it) {
        return { title: it.position + ". " + it.title, docs: all.filter(function (d) { return d.item_id === it.id; }) };
      });
      groups.push({ title: T.other_documents, docs: all.filter(function (d) {
        return !(s.agenda || []).some(function (it) { return it.id === d.item_id; });
      }) });
      groups.forEach(function (g) {
        if (!g.docs.length) return;
        list.appendChild(el("h3", { "class": "docs-item" }, g.title));
        var ul = el("ul", { "class": "docs-docs" });
        g.docs.forEach(function (d) {
          var li = el("li");
          var b = el("button", { "class": "linklike docs-open", "type": "button", "data-open": String(d.id) }, d.title);
          li.appendChild(b);
          // Under the title: what a delegate needs (how long, whether it is confidential), not the file's name.
          li.appendChild(el("small", { "class": "docs-meta" }, fmtText(T.pages, { count: d.page_count }) +
            (d.confidential ? " · " + T.confidential : "")));
          ul.appendChild(li);
        });
        list.appendChild(ul);
      });
      if (view.doc !== null && !docById(view.doc)) { view.doc = null; $("doc-viewer").hidden = true; }
      chrome();
    }
    if (page === "clerk") clerkTable();
  }

  function thumbs() {
    var box = $("doc-thumbs");
    if (!box.hidden) { box.hidden = true; return; }
    var d = docById(view.doc); if (!d) return;
    box.innerHTML = "";
    for (var n = 1; n <= d.page_count; n++) {
      var b = el("button", { "type": "button", "class": "docs-thumb", "data-thumb": String(n) });
      var im = el("img", { "alt": String(n), "loading": "lazy" });
      im.src = imageUrl(d.id, n, 720);
      b.appendChild(im);
      b.appendChild(el("span", {}, String(n)));
      box.appendChild(b);
    }
    box.hidden = false;
  }

  function setZoom(z) {
    zoom = Math.max(1, Math.min(4, z));
    layout();
    if (view.doc !== null) show(view.doc, view.page);
  }

  // The page image's width: a share of the box's width, or, fitting the whole page, the width at which the page is
  // as tall as the box (from the image's own proportions; A4 until the first image has loaded) — times the zoom.
  function layout() {
    var img = $("doc-img"), stage = $("doc-stage");
    if (!img || !stage) return;
    var b = $("doc-fit");
    if (b) b.setAttribute("aria-pressed", fitPage ? "true" : "false");
    if (!fitPage) { img.style.width = (zoom * 100) + "%"; return; }
    var ratio = img.naturalWidth && img.naturalHeight ? img.naturalWidth / img.naturalHeight : 210 / 297;
    var boxH = parseFloat(window.getComputedStyle(stage).maxHeight) || window.innerHeight * 0.85;
    var fit = Math.min(stage.clientWidth, boxH * ratio);
    img.style.width = Math.floor(fit * zoom) + "px";
  }

  function present(docId, n, extra) {
    var data = { document_id: docId, page: n };
    if (extra) Object.keys(extra).forEach(function (k) { data[k] = extra[k]; });
    Live.send("present", data, ack);
  }

  // ◀ ▶ of the room's page: the server moves from the page it has stored (`step`), so a second tap sent before the
  // first one's page came back moves one page further instead of aiming at the same page. Looking at another page
  // than the room's, the page in front of the presenter, plus or minus one, is put up.
  function presentStep(d, delta) {
    var n = Math.max(1, Math.min(d.page_count, view.page + delta));
    present(view.doc, n, onRoomPage() ? { step: delta } : null);
  }

  if ($("documents")) {
    $("doc-follow").addEventListener("change", function () {
      follow = this.checked;
      if (follow) onPresented(); else chrome();
    });
    $("doc-return").addEventListener("click", function () {
      follow = true;
      var pr = presented();
      if (pr.document_id !== null) show(pr.document_id, pr.page);
      chrome();
      bringIntoView();
    });
    $("doc-jump").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var n = parseInt($("doc-jump-page").value, 10);
      if (n && view.doc !== null) browse(view.doc, n);
    });
    $("doc-search-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      search($("doc-search").value);
    });
    $("doc-img").addEventListener("load", function () { this.removeAttribute("data-loading"); if (fitPage) layout(); });
    window.addEventListener("resize", function () { if (fitPage) layout(); });
    $("doc-img").addEventListener("error", function () { this.removeAttribute("data-loading"); });
    document.getElementById("documents").addEventListener("click", function (ev) {
      var t = ev.target.closest ? ev.target.closest("[data-doc],[data-open],[data-thumb],[data-hit]") : null;
      if (!t) return;
      if (t.getAttribute("data-open")) { browse(Number(t.getAttribute("data-open")), 1); bringIntoView(); return; }
      if (t.getAttribute("data-thumb")) { browse(view.doc, Number(t.getAttribute("data-thumb"))); return; }
      if (t.getAttribute("data-hit")) {
        var parts = t.getAttribute("data-hit").split(":");
        browse(Number(parts[0]), Number(parts[1])); bringIntoView(); return;
      }
      var a = t.getAttribute("data-doc");
      var d = docById(view.doc);
      if (a === "prev" && d) turn(-1);
      else if (a === "next" && d) turn(1);
      else if (a === "close") { follow = false; view.doc = null; $("doc-viewer").hidden = true; chrome(); }
      else if (a === "read") setReading(!reading);
      else if (a === "zoom-in") setZoom(zoom * 1.5);
      else if (a === "zoom-out") setZoom(zoom / 1.5);
      else if (a === "fit") {
        fitPage = !fitPage;
        try { window.localStorage.setItem("docs.fit", fitPage ? "page" : "width"); } catch (e) { /* not kept */ }
        setZoom(1);
      }
      else if (a === "thumbs") thumbs();
      else if (a === "present" && d) { follow = true; present(view.doc, view.page); }
      else if (a === "present-next" && d) { follow = true; presentStep(d, 1); }
      else if (a === "present-prev" && d) { follow = true; presentStep(d, -1); }
      else if (a === "present-stop") { Live.send("present", { document_id: null }, ack, t); }
      else if (a === "grant") {
        var pid = Number($("doc-grant-who").value);
        if (pid) Live.send("present.grant", { participant_id: pid }, ack, t);
      } else if (a === "revoke") { Live.send("present.grant", { participant_id: null }, ack, t); }
    });
    $("doc-projector").addEventListener("change", function () {
      if (view.doc !== null) present(view.doc, view.page, { projector: this.checked });
    });
    swipe($("doc-stage"));
    swipe($("doc-text"));
    modeChrome();
    layout();
    // Arrow keys, and the PageUp / PageDown a presentation clicker sends, turn the page like ◀ ▶.
    document.addEventListener("keydown", function (e) {
      if (view.doc === null || $("doc-viewer").hidden || e.altKey || e.ctrlKey || e.metaKey) return;
      var tag = (e.target && e.target.tagName) || "";
      if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (e.target && e.target.isContentEditable)) return;
      var delta = { ArrowRight: 1, PageDown: 1, ArrowLeft: -1, PageUp: -1 }[e.key];
      if (!delta) return;
      e.preventDefault();
      turn(delta);
    });
    notes();
  }

  function swipe(stage) {
    // A horizontal swipe turns the page when the page is not zoomed (zoomed, the finger pans instead). Zoomed means
    // our +/− buttons or the browser's own pinch-zoom: panned to the page's edge, a pinch-zoomed finger moves in
    // page coordinates again and would otherwise turn the page under the reader.
    var x0 = null, y0 = null;
    stage.addEventListener("touchstart", function (e) {
      var pinched = window.visualViewport && window.visualViewport.scale > 1.01;
      if (e.touches.length !== 1 || zoom > 1 || pinched) { x0 = null; return; }
      x0 = e.touches[0].clientX; y0 = e.touches[0].clientY;
    }, { passive: true });
    stage.addEventListener("touchend", function (e) {
      if (x0 === null || view.doc === null) return;
      var t = e.changedTouches[0];
      var dx = t.clientX - x0, dy = t.clientY - y0;
      x0 = null;
      if (Math.abs(dx) > 60 && Math.abs(dx) > 2 * Math.abs(dy)) turn(dx < 0 ? 1 : -1);
    }, { passive: true });
  }

  function search(q) {
    var box = $("doc-search-results");
    if (!q.replace(/\s/g, "")) { box.hidden = true; return; }
    fetch("/api/v1/meetings/" + meetingId + "/search?q=" + encodeURIComponent(q), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (j) {
        box.innerHTML = "";
        var hits = j.hits || [];
        box.appendChild(el("p", { "class": "hint" }, hits.length ? fmtText(T.hits, { count: hits.length }) : T.no_hits));
        var ul = el("ul", { "class": "docs-hits" });
        hits.forEach(function (h) {
          var li = el("li");
          var b = el("button", { "type": "button", "class": "linklike docs-hit", "data-hit": h.document_id + ":" + h.page },
            h.title + " — " + fmtText(T.page_of, { page: h.page, count: (docById(h.document_id) || {}).page_count || "?" }));
          li.appendChild(b);
          var sn = el("div", { "class": "docs-snippet" });
          sn.innerHTML = h.snippet;  // escaped by the server; only <mark> is markup
          li.appendChild(sn);
          ul.appendChild(li);
        });
        box.appendChild(ul);
        box.hidden = false;
      });
  }

  // --- private notes ---------------------------------------------------------------------------------------------
  var noteTimer = null;
  function notes() {
    if (!canNotes) return;
    $("doc-notes-export").href = "/api/v1/meetings/" + meetingId + "/notes.txt";
    $("doc-note").addEventListener("input", function () {
      var docId = view.doc, n = view.page, text = this.value;
      (notesCache[docId] = notesCache[docId] || {})[n] = text;
      $("doc-note-status").textContent = T.note_saving;
      clearTimeout(noteTimer);
      noteTimer = setTimeout(function () { saveNote(docId, n, text); }, 700);
    });
  }
  function saveNote(docId, n, text) {
    fetch("/api/v1/documents/" + docId + "/notes/" + n, {
      method: "PUT", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ text: text })
    }).then(function (r) {
      $("doc-note-status").textContent = r.ok ? T.note_saved : T.note_failed;
    }, function () { $("doc-note-status").textContent = T.note_failed; });
  }
  function loadNote() {
    if (!canNotes || view.doc === null) return;
    var docId = view.doc;
    var fill = function () {
      if (view.doc !== docId) return;
      $("doc-note").value = (notesCache[docId] || {})[view.page] || "";
      $("doc-note").setAttribute("data-page", String(view.page));
    };
    if (notesCache[docId]) { fill(); return; }
    fetch("/api/v1/documents/" + docId + "/notes", { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (j) { notesCache[docId] = j.notes || {}; fill(); });
  }

  // --- the chair hands presenting to a delegate -----------------------------------------------------------------
  function grantPanel() {
    var box = $("doc-grant");
    if (!box) return;
    var g = Live.state().presenter || {};
    if (page !== "chair" || !g.candidates) { box.hidden = true; return; }
    box.hidden = false;
    $("doc-grant-now").textContent = g.granted_participant_id ? fmtText(T.grant_now, { name: g.granted_name || "" })
      : T.grant_none;
    var sel = $("doc-grant-who");
    if (sel.options.length) return;
    g.candidates.forEach(function (a) { sel.appendChild(el("option", { value: String(a.id) }, a.name)); });
  }

  // --- the projector -----------------------------------------------------------------------------------------------
  function kiosk(pr) {
    var stage = $("kiosk-stage");
    if (!stage) return;
    // The idle screen's turn is decided in documents.css from this class and voting.js's `kiosk-voting`.
    document.body.classList.toggle("kiosk-presenting", pr.document_id !== null);
    if (pr.document_id === null) { stage.hidden = true; stage.innerHTML = ""; return; }
    var img = stage.querySelector("img");
    if (!img) { img = el("img", { "class": "kiosk-page", "alt": "" }); stage.appendChild(img); }
    var url = imageUrl(pr.document_id, pr.page, 1600);
    if (img.getAttribute("src") !== url) img.src = url;
    img.setAttribute("data-doc", String(pr.document_id));
    img.setAttribute("data-page", String(pr.page));
    stage.hidden = false;
    // The next page, so the presenter's "next" shows at once.
    var nx = new Image(); nx.src = imageUrl(pr.document_id, pr.page + 1, 1600);
  }

  // --- the clerk's uploads -------------------------------------------------------------------------------------------
  var progress = {};  // document id -> {status, done, total, error}
  var renaming = {};  // document id -> true while its rename form is open
  var notices = {};   // document id -> {kind: "ok"|"error", text}: the answer to a rename, shown beside it

  function clerkTable() {
    var tbody = $("doc-manage"); if (!tbody) return;
    var s = Live.state();
    var sel = $("doc-item");
    if (sel && !sel.options.length) {
      sel.appendChild(el("option", { value: "" }, TC.no_item));
      (s.agenda || []).forEach(function (it) { sel.appendChild(el("option", { value: String(it.id) }, it.position + ". " + it.title)); });
    }
    tbody.innerHTML = "";
    docs().forEach(function (d) {
      var tr = el("tr", { "data-document": String(d.id), "data-status": d.status });
      var td = el("td", { "class": "docs-title" });
      td.appendChild(el("strong", { "data-title": String(d.id) }, d.title)); td.appendChild(el("br"));
      td.appendChild(el("small", {}, d.original_name));
      if (renaming[d.id]) {
        var f = el("form", { "class": "docs-rename", "data-rename-form": String(d.id) });
        var input = el("input", { name: "title", maxlength: "300", required: "required", "aria-label": TC.rename_label });
        input.value = d.title;
        f.appendChild(input);
        f.appendChild(el("button", { "class": "button small primary", type: "submit" }, TC.save));
        f.appendChild(el("button", { "class": "button small", type: "button", "data-rename-cancel": String(d.id) }, TC.cancel));
        td.appendChild(f);
      } else {
        td.appendChild(el("br"));
        td.appendChild(el("button", { "class": "button small", type: "button", "data-rename": String(d.id) }, TC.rename));
      }
      var n = notices[d.id];
      if (n) {
        td.appendChild(el("p", { "class": "flash said flash-" + n.kind, role: n.kind === "error" ? "alert" : "status",
          "data-said": "doc-" + d.id }, n.text));
      }
      tr.appendChild(td);
      var item = el("select", { "data-field": "item_id", "aria-label": TC.no_item });
      item.appendChild(el("option", { value: "" }, TC.no_item));
      (s.agenda || []).forEach(function (it) {
        var o = el("option", { value: String(it.id) }, it.position + ". " + it.title);
        if (it.id === d.item_id) o.selected = true;
        item.appendChild(o);
      });
      td = el("td"); td.appendChild(item); tr.appendChild(td);
      td = el("td", { "class": "docs-status" });
      statusCell(td, d);
      tr.appendChild(td);
      ["confidential", "allow_download"].forEach(function (f) {
        var c = el("input", { type: "checkbox", "data-field": f === "allow_download" ? "downloadable" : f });
        c.checked = !!d[f];
        if (f === "allow_download" && d.confidential) c.disabled = true;
        td = el("td"); td.appendChild(c); tr.appendChild(td);
      });
      td = el("td");
      td.appendChild(el("button", { "class": "button small danger", type: "button", "data-delete": String(d.id) }, TC["delete"]));
      tr.appendChild(td);
      tbody.appendChild(tr);
    });
    syncUploads();
  }

  // The upload list says how each file ended: done (ready to read) or failed with the reason, never "uploading"
  // forever. The `document` events say it as it happens; the `state` list says it too (after a reconnection, or when
  // the event came before the upload's answer told this page the document's id).
  function uploadItem(id) { return document.querySelector('#doc-uploads li[data-document="' + id + '"]'); }
  function showUpload(li, status, d) {
    var msg = li.querySelector(".docs-upload-msg");
    var bar = li.querySelector("progress");
    if (status === "failed") {
      li.className = "docs-upload failed"; li.setAttribute("data-upload", "failed");
      msg.textContent = " " + fmtText(TC.upload_failed_reason, { reason: ((d.error || {}).message) || TC.failed });
      if (bar) bar.parentNode.removeChild(bar);
    } else if (status === "ready") {
      li.className = "docs-upload done"; li.setAttribute("data-upload", "done");
      msg.textContent = " " + fmtText(TC.upload_done, { count: d.page_count });
      if (bar) bar.parentNode.removeChild(bar);
    } else {
      li.setAttribute("data-upload", "processing");
      msg.textContent = " " + TC.checking;
    }
  }
  function syncUploads() {
    var items = document.querySelectorAll("#doc-uploads li[data-document]");
    for (var i = 0; i < items.length; i++) {
      var id = Number(items[i].getAttribute("data-document"));
      var p = progress[id], d = docById(id);
      if (p && (p.status === "failed" || p.status === "ready")) showUpload(items[i], p.status, { error: p.error, page_count: p.total });
      else if (d) showUpload(items[i], d.status, d);
    }
  }

  function statusCell(td, d) {
    td.innerHTML = "";
    var p = progress[d.id] || {};
    var status = p.status || d.status;
    if (status === "failed") {
      var err = (p.error || d.error || {});
      td.appendChild(el("span", { "class": "docs-error", role: "alert" }, err.message || TC.failed));
      if (err.code === "doc.encrypted") {
        td.appendChild(el("button", { "class": "button small", type: "button", "data-password": String(d.id) }, TC.password));
      }
    } else if (status === "processing") {
      td.appendChild(el("span", {}, TC.checking));
    } else {
      var total = p.total || d.page_count, done = p.done !== undefined ? p.done : d.pages_rendered;
      td.appendChild(el("span", {}, fmtText(TC.ready, { count: d.page_count })));
      if (done < total && !d.confidential) {
        var bar = el("progress", { max: String(total), value: String(done) });
        td.appendChild(el("br")); td.appendChild(bar);
        td.appendChild(el("small", {}, " " + fmtText(TC.processing, { done: done, total: total })));
      }
    }
  }

  socket.on("document", function (ev) {
    progress[ev.id] = { status: ev.status, done: ev.pages_rendered, total: ev.page_count, error: ev.error };
    var up = uploadItem(ev.id);
    if (up) showUpload(up, ev.status, ev);
    var tr = document.querySelector('#doc-manage tr[data-document="' + ev.id + '"]');
    var d = docById(ev.id);
    if (tr && d) {
      d.pages_rendered = ev.pages_rendered;
      tr.setAttribute("data-status", ev.status);
      statusCell(tr.querySelector(".docs-status"), { id: d.id, status: ev.status, page_count: ev.page_count,
        pages_rendered: ev.pages_rendered, error: ev.error, confidential: d.confidential });
    }
  });

  function api(method, url, body) {
    return fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), "Accept": "application/json" },
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) { return r.json().then(function (j) { if (!r.ok) say(j.message || TC.upload_failed); return j; }); });
  }

  function upload(file) {
    var li = el("li", { "class": "docs-upload", "data-upload": "uploading" });
    li.appendChild(el("strong", {}, file.name));
    var bar = el("progress", { max: "100", value: "0" });
    li.appendChild(bar);
    var msg = el("span", { "class": "docs-upload-msg" });
    li.appendChild(msg);
    $("doc-uploads").appendChild(li);
    var form = new FormData();
    form.append("file", file, file.name);
    form.append("item_id", $("doc-item").value);
    if ($("doc-confidential").checked) form.append("confidential", "1");
    if ($("doc-downloadable").checked) form.append("downloadable", "1");
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/meetings/" + meetingId + "/documents");
    xhr.setRequestHeader("X-CSRFToken", csrf());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = function (e) { if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total); };
    xhr.onload = function () {
      var j = {};
      try { j = JSON.parse(xhr.responseText); } catch (e) { j = {}; }
      if (xhr.status === 202) {
        bar.value = 100; li.setAttribute("data-document", String(j.id));
        showUpload(li, "processing", {});
        syncUploads();  // its outcome may have come already
      } else {
        showUpload(li, "failed", { error: { message: j.message || TC.upload_failed } });
      }
    };
    xhr.onerror = function () { showUpload(li, "failed", { error: { message: TC.network } }); };
    msg.textContent = " " + TC.sending;
    xhr.send(form);
  }

  if (page === "clerk" && $("doc-drop")) {
    var drop = $("doc-drop");
    ["dragenter", "dragover"].forEach(function (n) {
      drop.addEventListener(n, function (e) { e.preventDefault(); drop.className = "docs-drop over"; });
    });
    ["dragleave", "drop"].forEach(function (n) {
      drop.addEventListener(n, function (e) { e.preventDefault(); drop.className = "docs-drop"; });
    });
    drop.addEventListener("drop", function (e) {
      var files = e.dataTransfer ? e.dataTransfer.files : [];
      for (var i = 0; i < files.length; i++) upload(files[i]);
    });
    $("doc-files").addEventListener("change", function () {
      for (var i = 0; i < this.files.length; i++) upload(this.files[i]);
      this.value = "";
    });
    $("doc-manage").addEventListener("change", function (e) {
      var f = e.target.getAttribute("data-field"); if (!f) return;
      var id = Number(e.target.closest("tr").getAttribute("data-document"));
      var body = {};
      body[f] = f === "item_id" ? (e.target.value ? Number(e.target.value) : null) : e.target.checked;
      api("PATCH", "/api/v1/documents/" + id, body);
    });
    $("doc-manage").addEventListener("submit", function (e) {
      var f = e.target; var id = Number(f.getAttribute("data-rename-form")); if (!id) return;
      e.preventDefault();
      var title = f.querySelector("input").value;
      fetch("/api/v1/documents/" + id, {
        method: "PATCH", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), "Accept": "application/json" },
        body: JSON.stringify({ title: title })
      }).then(function (r) {
        return r.json().then(function (j) {
          if (r.ok) {
            delete renaming[id];
            var d = docById(id); if (d) d.title = j.title;
            notices[id] = { kind: "ok", text: fmtText(TC.renamed, { title: j.title }) };
          } else {
            notices[id] = { kind: "error", text: j.message || TC.upload_failed };
          }
          clerkTable();
        });
      }, function () { notices[id] = { kind: "error", text: TC.network_short }; clerkTable(); });
    });
    $("doc-manage").addEventListener("click", function (e) {
      var b = e.target.closest("button"); if (!b) return;
      var del = b.getAttribute("data-delete"), locked = b.getAttribute("data-password");
      if (b.getAttribute("data-rename")) {
        renaming[Number(b.getAttribute("data-rename"))] = true; delete notices[Number(b.getAttribute("data-rename"))];
        clerkTable();
        var input = document.querySelector('#doc-manage form[data-rename-form="' + b.getAttribute("data-rename") + '"] input');
        if (input) { input.focus(); input.select(); }
      } else if (b.getAttribute("data-rename-cancel")) {
        delete renaming[Number(b.getAttribute("data-rename-cancel"))];
        delete notices[Number(b.getAttribute("data-rename-cancel"))];
        clerkTable();
      } else if (del) {
        window.Dialog.confirm(TC.confirm_delete, function (yes) {
          if (yes) api("DELETE", "/api/v1/documents/" + del);
        }, { ok: TC.delete_ok, danger: true });
      } else if (locked) {
        window.Dialog.prompt(TC.password_prompt, function (pw) {
          if (pw) api("POST", "/api/v1/documents/" + locked + "/password", { password: pw });
        }, { type: "password", required: true });
      }
    });
  }

  renderLists();
  onPresented();
  window.Documents = { view: function () { return { doc: view.doc, page: view.page, follow: follow, reading: reading }; } };
})();
