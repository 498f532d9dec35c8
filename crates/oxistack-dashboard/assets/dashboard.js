// oxistack dashboard: the little script there is. Every page works
// without it; it adds the confirmation dialog for destructive actions and
// refreshes the rows of pending objects (elements with an id and
// data-refresh) by fetching the same page again, or the element's own
// data-refresh-src (a route answering just that element), and swapping
// them in. A refresh sends X-Refresh, so the server leaves the session's
// messages for the next page the user opens.
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

  // Pending rows refresh themselves until they settle. A failed refresh
  // is retried later and later (2 s doubling to 30 s); a redirected one
  // means the session ended, so the browser goes where it was sent (the
  // login page, saying so).
  const POLL_MS = 2000;
  const MAX_POLL_MS = 30000;
  let delay = POLL_MS;
  let timer = null;
  function schedule() {
    if (timer === null && document.querySelector("[data-refresh][id]")) {
      timer = setTimeout(refresh, delay);
    }
  }

  // The elements to refresh, grouped by the URL that answers them.
  function bySource() {
    const sources = new Map();
    for (const element of document.querySelectorAll("[data-refresh][id]")) {
      const url = element.getAttribute("data-refresh-src") || location.href;
      if (!sources.has(url)) sources.set(url, []);
      sources.get(url).push(element);
    }
    return sources;
  }

  // Swaps each element for its copy in `fresh` (a settled one comes back
  // without data-refresh; a gone one is removed), except one the user is
  // typing in; the focus stays where it was.
  function swap(elements, fresh) {
    const active = document.activeElement && document.activeElement.id;
    for (const old of elements) {
      if (!old.isConnected) continue;
      if (old.contains(document.activeElement) && old.querySelector("input:focus,select:focus,textarea:focus")) continue;
      const replacement = fresh.getElementById(old.id);
      if (replacement) old.replaceWith(document.importNode(replacement, true));
      else old.remove();
    }
    const lost = !document.activeElement || document.activeElement === document.body;
    if (lost && active && document.getElementById(active)) document.getElementById(active).focus();
  }

  async function refresh() {
    timer = null;
    let failed = false;
    for (const [url, elements] of bySource()) {
      try {
        const response = await fetch(url, { headers: { "X-Refresh": "1" }, credentials: "same-origin" });
        if (response.redirected) {
          location.assign(response.url);
          return;
        }
        if (!response.ok) { failed = true; continue; }
        swap(elements, new DOMParser().parseFromString(await response.text(), "text/html"));
      } catch (error) {
        failed = true;
      }
    }
    delay = failed ? Math.min(delay * 2, MAX_POLL_MS) : POLL_MS;
    schedule();
  }
  window.oxistackRefresh = schedule;
  document.addEventListener("DOMContentLoaded", schedule);
})();
