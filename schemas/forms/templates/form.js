(function () {
  "use strict";
  var form = document.querySelector("form.rf-form");
  if (form) {
    // One submission per click: a second click while the first is on its way does nothing.
    form.addEventListener("submit", function (ev) {
      if (form.getAttribute("data-sending")) {
        ev.preventDefault();
        return;
      }
      form.setAttribute("data-sending", "1");
      var button = form.querySelector("button[type=submit]");
      if (button) {
        button.setAttribute("aria-disabled", "true");
      }
    });
    window.addEventListener("pageshow", function () {
      form.removeAttribute("data-sending");
      var button = form.querySelector("button[type=submit]");
      if (button) {
        button.removeAttribute("aria-disabled");
      }
    });
  }
  // Focus the first field with an error (else the error summary, or the success message),
  // so keyboard and screen reader users land where they need to be.
  var target = document.querySelector("[aria-invalid=true]") ||
    document.getElementById("rf-summary") || document.getElementById("rf-success");
  if (target && document.activeElement !== target) {
    target.focus();
  }
  // Embedded in another site: tell the embedding script how tall the form is.
  if (window.parent !== window) {
    var slug = document.documentElement.getAttribute("data-form");
    var last = 0;
    var post = function () {
      var h = Math.ceil(document.documentElement.getBoundingClientRect().height);
      if (h !== last) {
        last = h;
        window.parent.postMessage({ relataForm: slug, height: h }, "*");
      }
    };
    window.addEventListener("load", post);
    if (window.ResizeObserver) {
      new ResizeObserver(post).observe(document.documentElement);
    }
    post();
  }
})();
