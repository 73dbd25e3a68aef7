/* The search of the council's public site (services/termsite.py): runs in the reader's browser, without a server,
   over SITE_INDEX (assets/du-lieu-tim-kiem.js: [{t: title, u: url, s: session, x: text}]). Typed with or without
   diacritics: "ngan sach" finds "ngân sách"; every word must start a word of the title or the text. ES5. */
(function () {
  "use strict";
  var index = window.SITE_INDEX || [];
  var form = document.getElementById("tim");
  var box = document.getElementById("q");
  var out = document.getElementById("ket-qua");
  var count = document.getElementById("so-ket-qua");
  var cache = {};

  function foldChar(c) {
    if (cache.hasOwnProperty(c)) return cache[c];
    var f = c;
    if (c === "đ" || c === "Đ" || c === "Ð" || c === "ð") f = "d";
    else if (f.normalize) f = f.normalize("NFD").replace(/[\u0300-\u036f]/g, "");
    f = (f.charAt(0) || " ").toLowerCase();
    cache[c] = f;
    return f;
  }
  /* One folded character per character of the text, so a hit's place in the folded text is its place in the
     original (for the excerpt). */
  function fold(text) {
    var out = [];
    for (var i = 0; i < text.length; i++) out.push(foldChar(text.charAt(i)));
    return out.join("");
  }
  function isWordChar(c) { return /[a-z0-9]/.test(c); }
  function wordStart(hay, word, from) {
    var at = hay.indexOf(word, from || 0);
    while (at >= 0) {
      if (at === 0 || !isWordChar(hay.charAt(at - 1))) return at;
      at = hay.indexOf(word, at + 1);
    }
    return -1;
  }
  for (var i = 0; i < index.length; i++) {
    index[i].ft = fold(String(index[i].t || ""));
    index[i].fx = fold(String(index[i].x || ""));
  }
  function esc(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }
  function excerpt(text, folded, words) {
    var at = -1;
    for (var k = 0; k < words.length && at < 0; k++) at = wordStart(folded, words[k]);
    if (at < 0) return esc(text.slice(0, 200));
    var start = Math.max(0, at - 80), end = Math.min(text.length, at + 160);
    var piece = text.slice(start, end), fpiece = folded.slice(start, end), html = "", pos = 0;
    while (pos < piece.length) {
      var best = -1, len = 0;
      for (var w = 0; w < words.length; w++) {
        var h = wordStart(fpiece, words[w], pos);
        if (h >= 0 && (best < 0 || h < best)) { best = h; len = words[w].length; }
      }
      if (best < 0) { html += esc(piece.slice(pos)); break; }
      html += esc(piece.slice(pos, best)) + "<mark>" + esc(piece.slice(best, best + len)) + "</mark>";
      pos = best + len;
    }
    return (start > 0 ? "… " : "") + html + (end < text.length ? " …" : "");
  }
  function run() {
    var words = fold(box.value).split(/[^a-z0-9]+/).filter(function (w) { return w.length > 0; });
    out.innerHTML = "";
    if (!words.length) { count.textContent = ""; return; }
    var hits = [];
    for (var i = 0; i < index.length; i++) {
      var e = index[i], all = true;
      for (var k = 0; k < words.length; k++) {
        if (wordStart(e.ft, words[k]) < 0 && wordStart(e.fx, words[k]) < 0) { all = false; break; }
      }
      if (all) hits.push(e);
    }
    count.textContent = hits.length ? "Tìm thấy " + hits.length + " kết quả." : "Không tìm thấy kết quả nào.";
    var html = [];
    for (var j = 0; j < hits.length && j < 100; j++) {
      var h = hits[j];
      html.push("<div class='hit'><a href='" + esc(h.u) + "'>" + esc(h.t) + "</a> <span class='muted'>" +
                esc(h.s || "") + "</span><br>" + excerpt(String(h.x || ""), h.fx, words) + "</div>");
    }
    out.innerHTML = html.join("");
  }
  form.addEventListener("submit", function (e) { e.preventDefault(); run(); });
  box.addEventListener("input", run);
  var q = /[?&]q=([^&]*)/.exec(window.location.search);
  if (q) { box.value = decodeURIComponent(q[1].replace(/\+/g, " ")); run(); }
})();
