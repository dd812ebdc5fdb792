// Filter findings by status and text.  Reads only the DOM; the page embeds no data in script.
(function () {
  "use strict";
  var form = document.getElementById("finding-filter");
  if (!form) {
    return;
  }
  var text = document.getElementById("filter-text");
  var status = document.getElementById("filter-status");
  var passed = document.getElementById("passed-findings");
  var count = document.getElementById("filter-count");
  var findings = Array.prototype.slice.call(document.querySelectorAll(".finding"));

  function apply() {
    var needle = text.value.trim().toLowerCase();
    var wanted = status.value;
    var shown = 0;
    findings.forEach(function (el) {
      var match = (!wanted || el.getAttribute("data-status") === wanted) &&
        (!needle || el.textContent.toLowerCase().indexOf(needle) !== -1);
      el.hidden = !match;
      shown += match ? 1 : 0;
    });
    // A search should not hide its matches inside the collapsed PASS list.
    if (passed && (needle || wanted === "PASS")) {
      passed.open = true;
    }
    count.textContent = String(shown);
  }

  form.hidden = false;
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  text.addEventListener("input", apply);
  status.addEventListener("change", apply);

  // Print everything, PASS included, then put the page back as it was.
  var wasOpen = false;
  window.addEventListener("beforeprint", function () {
    if (passed) { wasOpen = passed.open; passed.open = true; }
  });
  window.addEventListener("afterprint", function () {
    if (passed) { passed.open = wasOpen; }
  });
})();
