/* The signer's page (/sign) and the signing card of the chair's, secretary's and clerk's screens: shows the step
   the server computed ("Chờ thư ký ký", "Chờ chủ tọa ký", "Đã ký") and refreshes it on `minutes.signing`.
   On /sign the signer confirms what they sign (version, pages, SHA-256) and signs their own step. */
(function () {
  "use strict";
  function $(sel, root) { return (root || document).querySelector(sel); }
  var csrf = ($('meta[name="csrf-token"]') || {}).content;

  function call(method, url, body, raw) {
    var headers = { "X-CSRFToken": csrf, "Accept": "application/json" };
    if (!raw) headers["Content-Type"] = "application/json";
    return fetch(url, { method: method, credentials: "same-origin", headers: headers,
                        body: raw ? body : (body === undefined ? undefined : JSON.stringify(body)) })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) {
          if (!r.ok) { var e = new Error(data.message || r.statusText); e.data = data; throw e; }
          return data;
        });
      });
  }

  function listen(meetingId, onState) {
    if (typeof io !== "function") return;
    var sock = io({ transports: ["websocket", "polling"] });
    sock.on("minutes.signing", function (st) { if (st.meeting_id === meetingId) onState(st); });
  }

  // --- the signing card on the chair's / secretary's / clerk's screens ------------------------------------------
  var card = $("#signing-card");
  if (card && !$(".sign-page")) {
    var refresh = function () {
      call("GET", card.dataset.signingUrl).then(function (st) { $('[data-signing="label"]', card).textContent = st.label; })
        .catch(function () {});
    };
    refresh();
    if (window.Live && window.Live.socket) window.Live.socket.on("minutes.signing", refresh);
    else if (typeof io === "function") io({ transports: ["websocket", "polling"] }).on("minutes.signing", refresh);
    else setInterval(refresh, 15000);
  }

  var page = $(".sign-page");
  if (!page) return;
  var I = JSON.parse(document.getElementById("i18n-signing").textContent);
  var st = JSON.parse(document.getElementById("signing-state").textContent);
  var me = page.dataset.me, meetingId = +page.dataset.meeting;
  var base = "/api/v1/meetings/" + meetingId + "/minutes";
  var confirmBox = $('[data-signing="confirm"]');

  function show(next) {
    st = next;
    $('[data-signing="label"]').textContent = I.labels[st.stage] || st.label;
    (st.steps || []).forEach(function (step) {
      var li = $('[data-step="' + step.role + '"] [data-step-status]');
      if (li) li.textContent = step.status === "signed" ? I.signed : I.pending;
    });
    $('[data-signing="sha256"]').textContent = st.current_sha256;
    $('[data-signing="pages"]').textContent = st.pages;
    $('[data-signing="version"]').textContent = st.version;
    var mine = (st.steps || []).filter(function (s) { return s.role === me; })[0];
    confirmBox.hidden = !(st.stage === me && mine);
    var newPin = $('[data-signing="new-pin"]');
    if (newPin && mine) newPin.hidden = !!mine.has_pin_key;
  }

  function fail(e) { $('[data-signing="error"]').textContent = e.message; }
  function ready() {
    if (!$('[data-signing="read"]').checked) { fail(new Error(I.must_read)); return false; }
    $('[data-signing="error"]').textContent = "";
    return true;
  }

  $('[data-action="set-pin"]') && $('[data-action="set-pin"]').addEventListener("click", function () {
    call("POST", base + "/signatures/" + me + "/key",
         { pin: $('[data-signing="pin1"]').value, pin_again: $('[data-signing="pin2"]').value })
      .then(show).catch(fail);
  });
  Array.prototype.forEach.call(document.querySelectorAll('[data-action="sign"]'), function (btn) {
    btn.addEventListener("click", function () {
      if (!ready()) return;
      var pin = $(btn.dataset.method === "token" ? '[data-signing="token-pin"]' : '[data-signing="pin"]').value;
      btn.disabled = true;
      call("POST", base + "/signatures/" + me, { method: btn.dataset.method, pin: pin, pdf_sha256: st.current_sha256 })
        .then(show).catch(fail).then(function () { btn.disabled = false; });
    });
  });
  $('[data-action="upload"]').addEventListener("click", function () {
    var f = $('[data-signing="file"]').files[0];
    if (!f || !ready()) return;
    var form = new FormData();
    form.append("file", f);
    call("POST", base + "/signatures/" + me + "/upload", form, true).then(show).catch(fail);
  });
  show(st);
  listen(meetingId, function () { call("GET", base + "/signing").then(show).catch(function () {}); });
})();
