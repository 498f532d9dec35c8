// oxistack dashboard: the little script there is. Every page works
// without it; it adds the confirmation dialog for destructive actions and
// refreshes the rows of pending objects (elements with an id and
// data-refresh) by fetching the same page again and swapping them in.
"use strict";

(function () {
  // Destructive forms (data-confirm) ask in the page's own dialog first.
  document.addEventListener("submit", function (event) {
    const form = event.target;
    const question = form.getAttribute("data-confirm");
    const dialog = document.getElementById("confirm");
    if (!question || form.dataset.confirmed || !dialog || !dialog.showModal) return;
    event.preventDefault();
    const submitter = event.submitter;
    document.getElementById("confirm-text").textContent = question;
    dialog.returnValue = "";
    dialog.onclose = function () {
      if (dialog.returnValue !== "confirm") { if (submitter) submitter.focus(); return; }
      form.dataset.confirmed = "1";
      if (form.requestSubmit) form.requestSubmit(submitter); else form.submit();
    };
    dialog.showModal();
    const cancel = dialog.querySelector("button[value=cancel]");
    if (cancel) cancel.focus();
  });

  // Pending rows refresh themselves until they settle.
  const POLL_MS = 2000;
  let timer = null;
  function schedule() {
    if (timer === null && document.querySelector("[data-refresh][id]")) {
      timer = setTimeout(refresh, POLL_MS);
    }
  }
  async function refresh() {
    timer = null;
    try {
      const response = await fetch(location.href, { headers: { "X-Refresh": "1" }, credentials: "same-origin" });
      if (response.redirected || !response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const active = document.activeElement && document.activeElement.id;
      for (const old of document.querySelectorAll("[data-refresh][id]")) {
        if (old.contains(document.activeElement) && old.querySelector("input:focus,select:focus,textarea:focus")) continue;
        const replacement = fresh.getElementById(old.id);
        if (replacement) old.replaceWith(document.importNode(replacement, true));
        else old.remove();
      }
      if (active && document.getElementById(active)) document.getElementById(active).focus();
    } catch (error) {
      // A failed refresh is retried on the next tick.
    }
    schedule();
  }
  window.oxistackRefresh = schedule;
  document.addEventListener("DOMContentLoaded", schedule);
})();
