/* The clerk console's steps (templates/clerk/console.html): one step shown at a time, chosen by the address's #anchor
   (a step, or any form inside one: the server sends the clerk back to the form with its message beside it), else by
   the meeting's phase. Without JavaScript every step shows, one under another. Plain ES5. */
(function () {
  "use strict";
  var nav = document.querySelector("nav.steps");
  if (!nav) return;
  var steps = document.querySelectorAll(".step[data-step]");
  var links = nav.querySelectorAll("[data-step-link]");

  function stepOf(node) {
    while (node && node !== document.body) {
      if (node.getAttribute && node.getAttribute("data-step")) return node;
      node = node.parentNode;
    }
    return null;
  }

  function show(key) {
    var i;
    for (i = 0; i < steps.length; i++) {
      steps[i].hidden = steps[i].getAttribute("data-step") !== key;
    }
    for (i = 0; i < links.length; i++) {
      if (links[i].getAttribute("data-step-link") === key) links[i].setAttribute("aria-current", "step");
      else links[i].removeAttribute("aria-current");
    }
  }

  function fromHash() {
    var id = (window.location.hash || "").replace(/^#/, "");
    var target = id ? document.getElementById(id) : null;
    var step = stepOf(target);
    if (!step) {
      show(nav.getAttribute("data-initial-step") || "meeting");
      return;
    }
    show(step.getAttribute("data-step"));
    if (target === step) { window.scrollTo(0, 0); return; }
    // The form's message (else the form) where the eye is, below the sticky step bar, not at the step's top. Again
    // once the page has loaded: the browser's own jump to the #anchor comes after this script has run.
    var said = document.querySelector('[data-said="' + id + '"]') || target;
    place(target, said);
    window.addEventListener("load", function () { setTimeout(function () { place(target, said); }, 0); });
  }

  function place(form, said) {
    var bar = nav.getBoundingClientRect().height;
    var top = Math.min(form.getBoundingClientRect().top, said.getBoundingClientRect().top);
    var bottom = Math.max(form.getBoundingClientRect().bottom, said.getBoundingClientRect().bottom);
    var room = window.innerHeight - bar;
    if (top >= bar && bottom <= window.innerHeight) return;  // both on screen already
    // The message at least; the form above it as far as the screen allows.
    var want = bottom - top <= room ? top - bar - (room - (bottom - top)) / 3 : said.getBoundingClientRect().bottom - window.innerHeight + 16;
    window.scrollBy(0, want);
  }

  document.body.className += " steps-on";
  window.addEventListener("hashchange", fromHash);
  fromHash();
})();
