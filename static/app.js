// Portaldesk: small progressive enhancements; every page works without them.
(function () {
  "use strict";
  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-copy]");
    if (b) {
      var text = b.getAttribute("data-copy");
      if (navigator.clipboard) navigator.clipboard.writeText(text);
      var old = b.textContent;
      b.textContent = b.getAttribute("data-copied") || "Copied";
      setTimeout(function () { b.textContent = old; }, 1500);
    }
  });
  document.addEventListener("click", function (e) {
    if (e.target.closest("[data-print]")) window.print();
  });
  document.addEventListener("submit", function (e) {
    var f = e.target;
    var msg = f.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { e.preventDefault(); return; }
    var btn = f.querySelector("button[type=submit]");
    if (btn) setTimeout(function () { btn.disabled = true; }, 0);
  });
  // The slug field follows the company name until the user edits it.
  var company = document.getElementById("company"), slug = document.getElementById("slug");
  if (company && slug) {
    var touched = slug.value !== "";
    slug.addEventListener("input", function () { touched = true; });
    company.addEventListener("input", function () {
      if (touched) return;
      slug.value = company.value.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40);
    });
  }
})();
