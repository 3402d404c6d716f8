(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) {
    return;
  }
  var origin = new URL(script.src).origin;
  var slug = {{.Slug}};
  var frame = document.createElement("iframe");
  // The host page's query string travels to the form: prefilled fields and UTM parameters.
  var query = window.location.search.replace(/^\?/, "");
  frame.src = origin + "/forms/" + encodeURIComponent(slug) + "?embed=1" + (query ? "&" + query : "");
  frame.title = {{.Title}};
  frame.loading = "lazy";
  frame.setAttribute("allow", "");
  frame.style.cssText = "display:block;width:100%;border:0;min-height:" + (script.getAttribute("data-min-height") || "480") + "px";
  var where = script.getAttribute("data-target");
  var target = where ? document.querySelector(where) : null;
  if (target) {
    target.appendChild(frame);
  } else {
    script.parentNode.insertBefore(frame, script.nextSibling);
  }
  window.addEventListener("message", function (ev) {
    if (ev.origin !== origin || ev.source !== frame.contentWindow || !ev.data || ev.data.relataForm !== slug) {
      return;
    }
    var h = Number(ev.data.height);
    if (h > 0 && h < 20000) {
      frame.style.minHeight = "0";
      frame.style.height = h + "px";
    }
  });
})();
