/* The minutes editor: saves the clerk's texts as they type (debounced), asks the server for a fresh preview of the
   PDF pages after each save, and prepares the minutes for the signers (who sign on their own screens, /sign). Also the audit check button of the clerk console.
   The server renders and computes everything; this file only sends texts and shows what comes back. */
(function () {
  "use strict";
  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function fmt(s, o) { return s.replace(/\{(\w+)\}/g, function (_, k) { return o[k]; }); }
  var csrf = ($('meta[name="csrf-token"]') || {}).content;

  function api(method, url, body) {
    return fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) { var e = new Error(data.message || r.statusText); e.data = data; throw e; }
        return data;
      });
    });
  }

  // --- audit check (clerk console) -------------------------------------------------------------------------
  $all('[data-action="audit-verify"]').forEach(function (btn) {
    btn.addEventListener("click", function () {
      var out = $('[data-minutes="audit"]');
      btn.disabled = true;
      api("GET", btn.dataset.url).then(function (r) {
        out.textContent = r.message; out.className = r.ok ? "status-present" : "status-absent";
      }).catch(function (e) { out.textContent = e.message; }).then(function () { btn.disabled = false; });
    });
  });

  var root = $(".minutes-layout");
  if (!root) return;
  var I = JSON.parse(document.getElementById("i18n-minutes").textContent);
  var st = JSON.parse(document.getElementById("minutes-state").textContent);
  var base = "/api/v1/meetings/" + root.dataset.meeting + "/minutes";
  var pending = {}, saveTimer = null, saving = false, previewBusy = false, previewAgain = false;

  function show(name, text) { var e = $('[data-minutes="' + name + '"]'); if (e) e.textContent = text; }

  function fill() {
    var t = st.texts || {};
    $all("[data-field]").forEach(function (el) {
      var v = t[el.dataset.field];
      el.value = Array.isArray(v) ? v.join("\n") : (v || "");
    });
    $all("[data-summary]").forEach(function (el) { el.value = (t.summaries || {})[el.dataset.summary] || ""; });
    status();
  }

  function status() {
    var frozen = st.status !== "draft";
    show("status", I["status_" + st.status] || st.status);
    show("version", fmt(I.version, { v: st.version }));
    $all("[data-field], [data-summary], [data-pin]").forEach(function (el) { el.disabled = frozen; });
    $('[data-action="prepare"]').hidden = frozen;
    $('[data-action="cancel-prepare"]').hidden = st.status !== "prepared";
    var finals = (st.versions || []).filter(function (v) { return v.status === "final"; });
    var dl = $('[data-minutes="download"]');
    if (finals.length) {
      dl.hidden = false;
      dl.href = "/api/v1/meetings/" + root.dataset.meeting + "/minutes.pdf?version=" + finals[finals.length - 1].version;
    }
    $('[data-action="correct"]').hidden = st.status !== "final";
  }

  function queue(changes) {
    Object.keys(changes).forEach(function (k) {
      if (k === "summaries") {
        pending.summaries = pending.summaries || {};
        Object.keys(changes.summaries).forEach(function (id) { pending.summaries[id] = changes.summaries[id]; });
      } else { pending[k] = changes[k]; }
    });
    show("saved", I.saving);
    clearTimeout(saveTimer);
    saveTimer = setTimeout(save, 600);
  }

  function save() {
    if (saving) { saveTimer = setTimeout(save, 200); return Promise.resolve(); }
    var changes = pending; pending = {};
    if (!Object.keys(changes).length) return Promise.resolve();
    saving = true;
    return api("PUT", base + "/draft", { changes: changes, revision: st.revision }).then(function (r) {
      st.revision = r.revision;
      show("saved", fmt(I.saved_at, { time: new Date(r.updated_at).toLocaleTimeString("vi-VN") }));
      preview();
    }).catch(function (e) {
      show("saved", fmt(I.save_failed, { message: e.message }));
    }).then(function () { saving = false; });
  }

  function preview() {
    if (previewBusy) { previewAgain = true; return; }
    previewBusy = true;
    show("pages", I.rendering);
    var box = $('[data-minutes="preview"]');
    api("POST", base + "/preview", { width: 420 }).then(function (r) {
      var frag = document.createDocumentFragment();
      r.pages.forEach(function (src, i) {
        var fig = document.createElement("figure");
        var img = document.createElement("img");
        img.src = src; img.alt = fmt(I.page, { n: i + 1 }); img.width = 420;
        var cap = document.createElement("figcaption");
        cap.className = "sr-only"; cap.textContent = (r.texts || [])[i] || "";
        fig.appendChild(img); fig.appendChild(cap);
        frag.appendChild(fig);
      });
      box.innerHTML = ""; box.appendChild(frag);
      box.dataset.revision = r.revision;
      show("pages", fmt(I.pages, { n: r.page_count }));
    }).catch(function (e) { show("pages", e.message); }).then(function () {
      previewBusy = false;
      if (previewAgain) { previewAgain = false; preview(); }
    });
  }

  $all("[data-field]").forEach(function (el) {
    el.addEventListener("input", function () {
      var c = {}; c[el.dataset.field] = el.value; queue(c);
    });
  });
  $all("[data-summary]").forEach(function (el) {
    el.addEventListener("input", function () {
      var c = { summaries: {} }; c.summaries[el.dataset.summary] = el.value; queue(c);
    });
  });

  $('[data-action="prepare"]').addEventListener("click", function () {
    var btn = this;
    window.Dialog.confirm(I.confirm_prepare, function (yes) { if (yes) prepare(btn); }, { ok: I.prepare_ok });
  });

  function prepare(btn) {
    btn.disabled = true;
    show("message", I.preparing);
    clearTimeout(saveTimer);
    Promise.resolve(Object.keys(pending).length ? save() : null).then(function () {
      return api("POST", base + "/prepare", {});
    }).then(function (r) {
      return api("GET", base).then(function (s) { st = s; status(); show("message", fmt(I.prepared, { v: r.version })); });
    }).catch(function (e) { show("message", e.message); }).then(function () { btn.disabled = false; });
  }

  $('[data-action="cancel-prepare"]').addEventListener("click", function () {
    api("POST", base + "/prepare/cancel", {}).then(function () { return api("GET", base); })
      .then(function (s) { st = s; fill(); preview(); }).catch(function (e) { show("message", e.message); });
  });

  $('[data-action="correct"]').addEventListener("click", function () {
    window.Dialog.prompt(I.correction_prompt, function (note) {
      if (note === null) return;
      api("POST", base + "/versions", { note: note }).then(function () { return api("GET", base); })
        .then(function (s) { st = s; fill(); preview(); }).catch(function (e) { show("message", e.message); });
    }, { type: "textarea", maxlength: 2000, ok: I.correct_ok });
  });

  fill();
  preview();
})();
