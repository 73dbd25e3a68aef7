/* The clerk console's clock card: the server's (corrected) time beside this phone's, and one button to set the
   server from the phone. The server keeps the offset; this only shows and sends. */
(function () {
  "use strict";
  var card = document.getElementById("clock");
  if (!card) return;
  var loaded = Date.now();
  var serverAtLoad = Number(card.dataset.serverMs);
  function fmt(ms) {
    var d = new Date(ms);
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return two(d.getHours()) + ":" + two(d.getMinutes()) + ":" + two(d.getSeconds()) + " " +
      two(d.getDate()) + "/" + two(d.getMonth() + 1) + "/" + d.getFullYear();
  }
  function tick() {
    var now = Date.now();
    card.querySelector('[data-clock="server"]').textContent = fmt(serverAtLoad + (now - loaded));
    card.querySelector('[data-clock="device"]').textContent = fmt(now);
  }
  card.querySelector('[data-clock="set"]').addEventListener("click", function () {
    var out = card.querySelector('[data-clock="result"]');
    fetch("/clerk/clock", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json",
                 "X-CSRFToken": document.querySelector('meta[name="csrf-token"]').content },
      body: JSON.stringify({ device_ms: Date.now() })
    }).then(function (r) { return r.json(); }).then(function (j) {
      if (j.ok) { serverAtLoad = Date.parse(j.server_now); loaded = Date.now(); out.textContent = "✓"; tick(); }
      else { out.textContent = j.message || "!"; }
    });
  });
  tick();
  setInterval(tick, 1000);
})();
