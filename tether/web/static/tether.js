// tether pages: a little progressive enhancement. Every page works without it.
(function () {
  "use strict";

  // Sign-in links carry the token in the fragment (never sent to a server): post it.
  function signInFromFragment() {
    var form = document.getElementById("signin-form");
    if (!form || !window.location.hash) { return; }
    var match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
    if (!match) { return; }
    var token = decodeURIComponent(match[1]);
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
    form.querySelector("input[name=token]").value = token;
    form.submit();
  }

  // Escape closes an open disclosure (calls, factors, filters) and returns focus to it.
  function escapeClosesDetails() {
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") { return; }
      var open = event.target.closest ? event.target.closest("details[open]") : null;
      if (!open) { return; }
      open.removeAttribute("open");
      var summary = open.querySelector("summary");
      if (summary) { summary.focus(); }
    });
  }

  // Opening a disclosure that holds a form puts the cursor in its first field.
  function focusFirstField() {
    document.addEventListener("toggle", function (event) {
      var details = event.target;
      if (!details.open || !details.matches || !details.matches("details[data-focus-first]")) { return; }
      var field = details.querySelector("select, input:not([type=hidden]), textarea");
      if (field) { field.focus(); }
    }, true);
  }

  // Buttons that change many records ask first.
  function confirmations() {
    document.addEventListener("submit", function (event) {
      var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
      if (message && !window.confirm(message)) { event.preventDefault(); }
    });
  }

  function ready() {
    signInFromFragment();
    escapeClosesDetails();
    focusFirstField();
    confirmations();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
