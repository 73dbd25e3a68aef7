/* Comments on drafts, live: the server sends `comments` {total, pending} to those who see every comment (the
   clerk's console, the drafting body's page) when a delegate posts one or an answer is saved. The console's card
   shows the new counts; the gathered list is fetched again and put in place, unless an answer is being written
   there (then a line says so, and nothing typed is lost). */
(function () {
  "use strict";
  var counts = document.querySelector('[data-cm="counts"]');
  var groups = document.getElementById("cm-groups");
  if (!counts && !groups) return;

  function showCounts(c) {
    counts.textContent = counts.getAttribute("data-template")
      .replace("{total}", String(c.total)).replace("{pending}", String(c.pending));
  }

  // An answer being written: a field in focus, or one whose value differs from what the page came with.
  function editing() {
    var a = document.activeElement;
    if (a && groups.contains(a) && (a.tagName === "TEXTAREA" || a.tagName === "INPUT")) return true;
    var fields = groups.querySelectorAll("textarea, input[type=radio]");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.tagName === "TEXTAREA" ? f.value !== f.defaultValue : f.checked !== f.defaultChecked) return true;
    }
    return false;
  }

  function refreshList() {
    if (editing()) { document.getElementById("cm-new").hidden = false; return; }
    var xhr = new XMLHttpRequest();
    xhr.open("GET", window.location.pathname);
    xhr.onload = function () {
      if (xhr.status !== 200 || editing()) return;
      var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
      var fresh = doc.getElementById("cm-groups");
      if (fresh) groups.innerHTML = fresh.innerHTML;
      document.getElementById("cm-new").hidden = true;
    };
    xhr.send();
  }

  function onComments(c) {
    if (counts) showCounts(c);
    if (groups) refreshList();
  }

  if (window.Live && window.Live.socket) window.Live.socket.on("comments", onComments);
  else if (typeof io === "function") io({ transports: ["websocket", "polling"] }).on("comments", onComments);
})();
