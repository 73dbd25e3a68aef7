/* In-page dialogs instead of the browser's prompt()/confirm(): large buttons, the question in the page's own
   type, a real form (one field per number), focus kept inside while open, Esc or "Hủy" cancels, focus goes back
   to what opened it. ES5: old Android phones and iPads.

   Dialog.ask({title, text, fields: [{name, label, type: "text"|"number"|"textarea"|"checkbox", value, min, max,
               required, hint}], ok, cancel, danger}, done)   done(values) on OK, done(null) when cancelled
   Dialog.confirm(text, done, opts)                          done(true|false)
   Dialog.prompt(text, done, opts)                           done(text|null); opts.required, opts.value */
(function () {
  "use strict";
  var source = document.getElementById("i18n-dialog");
  var T = source ? JSON.parse(source.textContent) : {};
  var open = null;  // the dialog showing now: one at a time

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function focusables(root) {
    return Array.prototype.filter.call(
      root.querySelectorAll("button, input, textarea, select, [tabindex]:not([tabindex='-1'])"),
      function (e) { return !e.disabled && e.offsetParent !== null; });
  }

  var seq = 0;
  function ask(opts, done) {
    if (open) open.finish(null);
    seq += 1;
    var id = "dialog-" + seq;
    var opener = document.activeElement;
    var back = el("div", { "class": "dialog-backdrop" });
    var box = el("form", { "class": "dialog", role: "dialog", "aria-modal": "true", "aria-labelledby": id + "-t",
      novalidate: "" });
    box.appendChild(el("h2", { id: id + "-t", "class": "dialog-title" }, opts.title || opts.text || ""));
    if (opts.title && opts.text) box.appendChild(el("p", { "class": "dialog-text", id: id + "-d" }, opts.text));
    if (opts.title && opts.text) box.setAttribute("aria-describedby", id + "-d");
    var inputs = [];
    (opts.fields || []).forEach(function (f, i) {
      var fid = id + "-f" + i;
      var row = el("div", { "class": "dialog-field" + (f.type === "checkbox" ? " check" : "") });
      var input;
      if (f.type === "textarea") input = el("textarea", { rows: "3" });
      else input = el("input", { type: f.type === "number" ? "number" : (f.type || "text") });
      input.id = fid; input.name = f.name;
      if (f.type === "number") {
        input.setAttribute("inputmode", "numeric");
        if (f.min !== undefined) input.setAttribute("min", String(f.min));
        if (f.max !== undefined) input.setAttribute("max", String(f.max));
        input.setAttribute("step", "1");
      }
      if (f.type === "checkbox") input.checked = !!f.value;
      else if (f.value !== undefined && f.value !== null) input.value = String(f.value);
      if (f.maxlength) input.setAttribute("maxlength", String(f.maxlength));
      if (f.label) {
        var label = el("label", { "for": fid }, f.label);
        if (f.type === "checkbox") { label.insertBefore(input, label.firstChild); row.appendChild(label); }
        else { row.appendChild(label); row.appendChild(input); }
      } else {
        input.setAttribute("aria-labelledby", id + "-t");  // the question itself names the one field
        row.appendChild(input);
      }
      if (f.hint) {
        var hint = el("p", { "class": "hint", id: fid + "-h" }, f.hint);
        input.setAttribute("aria-describedby", fid + "-h");
        row.appendChild(hint);
      }
      inputs.push({ f: f, input: input });
      box.appendChild(row);
    });
    var error = el("p", { "class": "dialog-error", role: "alert" });
    error.hidden = true;
    box.appendChild(error);
    var buttons = el("div", { "class": "dialog-buttons" });
    var cancel = el("button", { type: "button", "class": "button dialog-cancel", "data-dialog": "cancel" },
      opts.cancel || T.cancel || "Hủy");
    var ok = el("button", { type: "submit", "class": "button primary dialog-ok" + (opts.danger ? " danger" : ""),
      "data-dialog": "ok" }, opts.ok || T.ok || "Đồng ý");
    if (!opts.alone) buttons.appendChild(cancel);
    buttons.appendChild(ok);
    box.appendChild(buttons);
    back.appendChild(box);
    document.body.appendChild(back);
    document.body.classList.add("dialog-open");

    var finished = false;
    function finish(values) {
      if (finished) return;
      finished = true;
      open = null;
      document.removeEventListener("keydown", onKey, true);
      if (back.parentNode) back.parentNode.removeChild(back);
      document.body.classList.remove("dialog-open");
      if (opener && opener.focus && document.body.contains(opener)) opener.focus();
      done(values);
    }
    function values() {
      var out = {};
      for (var i = 0; i < inputs.length; i++) {
        var f = inputs[i].f, input = inputs[i].input;
        if (f.type === "checkbox") { out[f.name] = input.checked; continue; }
        var v = input.value.trim();
        if (!v) {
          if (f.required) return fail(input, T.required || "Hãy điền ô này.");
          out[f.name] = f.type === "number" ? null : "";
          continue;
        }
        if (f.type === "number") {
          var n = Number(v);
          if (!/^\d+$/.test(v) || (f.min !== undefined && n < f.min) || (f.max !== undefined && n > f.max)) {
            var msg = f.max !== undefined ? T.range : T.whole;
            return fail(input, (msg || "").replace("{min}", f.min === undefined ? 0 : f.min)
              .replace("{max}", f.max === undefined ? "" : f.max));
          }
          out[f.name] = n;
        } else out[f.name] = v;
      }
      return out;
    }
    function fail(input, message) {
      error.textContent = message;
      error.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return null;
    }
    function onKey(e) {
      if (e.key === "Escape" || e.key === "Esc" || e.keyCode === 27) { e.preventDefault(); finish(null); return; }
      if (e.key === "Tab" || e.keyCode === 9) {
        var list = focusables(box);
        if (!list.length) return;
        var first = list[0], last = list[list.length - 1];
        if (!box.contains(document.activeElement)) { e.preventDefault(); first.focus(); }
        else if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
        else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
      }
    }
    document.addEventListener("keydown", onKey, true);
    // Focus that leaves the dialog (a tap outside, a screen reader's jump) is brought back.
    back.addEventListener("mousedown", function (e) { if (e.target === back) e.preventDefault(); });
    cancel.addEventListener("click", function () { finish(null); });
    box.addEventListener("input", function (e) {
      error.hidden = true;
      if (e.target.removeAttribute) e.target.removeAttribute("aria-invalid");
    });
    box.addEventListener("submit", function (e) {
      e.preventDefault();
      var v = values();
      if (v) finish(v);
    });
    open = { finish: finish };
    (inputs.length && inputs[0].f.type !== "checkbox" ? inputs[0].input : (opts.danger ? cancel : ok)).focus();
    return open;
  }

  function confirmDialog(text, done, opts) {
    opts = opts || {};
    return ask({ title: opts.title || text, text: opts.title ? text : null, ok: opts.ok, cancel: opts.cancel,
      danger: opts.danger }, function (v) { done(!!v); });
  }

  function promptDialog(text, done, opts) {
    opts = opts || {};
    return ask({ title: opts.title || text, text: opts.title ? text : null, ok: opts.ok, cancel: opts.cancel,
      fields: [{ name: "value", label: opts.label || "", type: opts.type || "text", value: opts.value,
        required: opts.required, maxlength: opts.maxlength, hint: opts.hint }] },
      function (v) { done(v ? v.value : null); });
  }

  function tell(text, done) {
    return ask({ title: text, alone: true, ok: T.close }, function () { if (done) done(); });
  }

  window.Dialog = { ask: ask, confirm: confirmDialog, prompt: promptDialog, tell: tell,
    isOpen: function () { return !!open; } };
})();
