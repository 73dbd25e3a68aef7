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
    // The form (and its message) where the eye is, below the sticky step bar, not the step's top.
    if (target !== step) {
      var said = target.querySelector(".said") || target;
      setTimeout(function () {
        var r = said.getBoundingClientRect();
        var bar = nav.getBoundingClientRect().height;
        if (r.top < bar || r.bottom > window.innerHeight) {
          window.scrollBy(0, r.top - bar - Math.max(16, (window.innerHeight - bar - r.height) / 3));
        }
      }, 0);
    } else {
      window.scrollTo(0, 0);
    }
  }

  document.body.className += " steps-on";
  window.addEventListener("hashchange", fromHash);
  fromHash();
})();
