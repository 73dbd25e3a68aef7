/* What the live panels share (the speakers' list in speakers.js, question time in questions.js): the latest payload
   the server sent, the server's clock against this device's (server_now_ms) for the countdown, the countdown's
   "m:ss", and one action at a time with the refusal kept to show in the panel rather than in a pop-up.
   LivePanel(render, current) gives an object; `current(data)` picks the running item ({ends_at_ms}) or null. */
(function () {
  "use strict";
  if (!window.Live) return;
  var Live = window.Live;

  function clock(sec) {
    var neg = sec < 0, a = Math.abs(sec);
    var m = Math.floor(a / 60), s = a % 60;
    return (neg ? "−" : "") + m + ":" + (s < 10 ? "0" : "") + s;
  }

  window.LivePanel = function (render, current) {
    var panel = {
      data: null,       // the latest payload
      offset: 0,        // server clock minus this device's clock, in ms
      message: "",      // the last refusal
      busy: false,
      clock: clock,
      accept: function (p) {
        if (!p) return;
        panel.data = p;
        if (typeof p.server_now_ms === "number") panel.offset = p.server_now_ms - Date.now();
        render();
      },
      // Seconds left on the running item's clock (negative once over), or null when nothing runs.
      remaining: function () {
        var c = panel.data && current(panel.data);
        if (!c) return null;
        return Math.ceil((c.ends_at_ms - (Date.now() + panel.offset)) / 1000);
      },
      // Send one action (ignored while the previous one waits for its answer); keep its refusal; redraw.
      send: function (event, payload, after) {
        if (panel.busy) return;
        panel.busy = true;
        Live.send(event, payload || {}, function (res) {
          panel.busy = false;
          panel.message = res && res.ok === false ? res.error : "";
          if (after) after(res);
          render();
        });
      }
    };
    return panel;
  };
})();
