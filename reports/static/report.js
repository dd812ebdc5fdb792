// Filter findings by status, check, severity, department and text.  Reads only the DOM; the
// page embeds no data in script.
(function () {
  "use strict";
  var form = document.getElementById("finding-filter");
  if (!form) {
    return;
  }
  var text = document.getElementById("filter-text");
  var selects = {
    "data-status": document.getElementById("filter-status"),
    "data-check": document.getElementById("filter-check"),
    "data-severity": document.getElementById("filter-severity"),
    "data-dept": document.getElementById("filter-dept")
  };
  var passed = document.getElementById("passed-findings");
  var count = document.getElementById("filter-count");
  var findings = Array.prototype.slice.call(document.querySelectorAll(".finding"));

  function wanted(el, attribute) {
    var select = selects[attribute];
    if (!select || !select.value) {
      return true;
    }
    var value = el.getAttribute(attribute) || "";
    // "-" selects findings whose resource no department owns.
    return select.value === "-" ? value === "" : value === select.value;
  }

  function apply() {
    var needle = text.value.trim().toLowerCase();
    var shown = 0;
    findings.forEach(function (el) {
      var match = Object.keys(selects).every(function (a) { return wanted(el, a); }) &&
        (!needle || el.textContent.toLowerCase().indexOf(needle) !== -1);
      el.hidden = !match;
      shown += match ? 1 : 0;
    });
    // A search should not hide its matches inside the collapsed PASS list.
    if (passed && (needle || selects["data-status"].value === "PASS")) {
      passed.open = true;
    }
    count.textContent = String(shown);
  }

  form.hidden = false;
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  text.addEventListener("input", apply);
  Object.keys(selects).forEach(function (a) {
    if (selects[a]) { selects[a].addEventListener("change", apply); }
  });

  // Print everything, PASS included, then put the page back as it was.
  var wasOpen = false;
  window.addEventListener("beforeprint", function () {
    if (passed) { wasOpen = passed.open; passed.open = true; }
  });
  window.addEventListener("afterprint", function () {
    if (passed) { passed.open = wasOpen; }
  });
})();
