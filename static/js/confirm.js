/* Forms that ask before they submit (`data-confirm-submit="question"`), without an inline handler, which the
   Content-Security-Policy (script-src 'self') would not run. */
(function () {
  "use strict";
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm-submit");
    if (question && !window.confirm(question)) e.preventDefault();
  }, true);
})();
