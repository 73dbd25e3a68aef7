/* The clerk console's readiness check, kept current: when the room changes (a `state` snapshot, attendance, a
   poll, the documents), the check as the server computes it now (GET /clerk/readiness, HTML) replaces the card and
   each step's summary line. Several changes in a row cost one request. */
(function () {
  "use strict";
  var card = document.getElementById("readiness");
  if (!card || !window.Live || !window.Live.socket) return;
  var timer = null, inFlight = false, again = false;

  function fetchNow() {
    if (inFlight) { again = true; return; }
    inFlight = true;
    var xhr = new XMLHttpRequest();
    xhr.open("GET", "/clerk/readiness");
    xhr.onloadend = function () {
      inFlight = false;
      if (xhr.status === 200) put(xhr.responseText);
      if (again) { again = false; later(); }
    };
    xhr.send();
  }

  function put(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.getElementById("readiness");
    var current = document.getElementById("readiness");
    if (fresh && current) current.innerHTML = fresh.innerHTML;
    var line = doc.querySelector(".readiness-link");
    if (!line) return;
    Array.prototype.forEach.call(document.querySelectorAll(".readiness-link"), function (old) {
      old.className = line.className;
      old.innerHTML = line.innerHTML;
    });
  }

  function later() {
    if (timer) clearTimeout(timer);
    timer = setTimeout(function () { timer = null; fetchNow(); }, 300);
  }

  ["state", "attendance", "poll", "documents", "minutes.signing"].forEach(function (name) {
    window.Live.socket.on(name, later);
  });
})();
