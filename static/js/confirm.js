/* Forms that ask before they submit (`data-confirm-submit="question"`), without an inline handler, which the
   Content-Security-Policy (script-src 'self') would not run. The question is an in-page dialog (dialog.js), not
   the browser's confirm(); once answered yes, the form is sent as it would have been. */
(function () {
  "use strict";
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm-submit");
    if (!question) return;
    if (form.getAttribute("data-confirmed")) { form.removeAttribute("data-confirmed"); return; }
    e.preventDefault();
    var submitter = e.submitter || null;
    window.Dialog.confirm(question, function (yes) {
      if (!yes) return;
      form.setAttribute("data-confirmed", "1");
      // requestSubmit keeps the pressed button's name and value and runs this listener again (now confirmed);
      // older browsers without it submit the form as it is.
      if (form.requestSubmit) form.requestSubmit(submitter && submitter.form === form ? submitter : undefined);
      else form.submit();
    }, { ok: form.getAttribute("data-confirm-ok") || undefined });
  }, true);
})();
