// oxistack dashboard: the image upload with progress. The create form
// (form[data-upload]) first posts its metadata, asking for JSON, which
// creates the image record in Glance and says where its data goes; then
// the chosen file is PUT there with an XMLHttpRequest, whose upload
// progress drives the form's <progress> bar, with the session's CSRF
// token in the X-CSRF-Token header. Without a file, or without this
// script, the form posts as any other and creates the record only.
"use strict";

(function () {
  // The message of a refusal: the JSON's, the dashboard page's alert, or
  // the status.
  function reason(text, status) {
    try {
      const message = JSON.parse(text).message;
      if (message) return message;
    } catch (notJson) {
      const page = new DOMParser().parseFromString(text, "text/html");
      const alert = page.querySelector(".flash-error");
      if (alert && alert.textContent.trim()) return alert.textContent.trim();
    }
    return "The dashboard answered " + status + "; reload the page and try again.";
  }

  function start(form) {
    const bar = document.getElementById("upload-bar");
    const percent = document.getElementById("upload-percent");
    const error = document.getElementById("upload-error");
    const button = form.querySelector("button[type=submit]");

    function show(value) {
      const rounded = Math.min(100, Math.floor(value));
      bar.value = rounded;
      percent.textContent = rounded + "%";
    }
    function fail(message) {
      error.textContent = message;
      error.hidden = false;
      button.disabled = false;
      error.focus();
    }

    form.addEventListener("submit", async function (event) {
      const file = form.elements.file.files[0];
      if (!file) return;
      event.preventDefault();
      error.hidden = true;
      button.disabled = true;
      const fields = new URLSearchParams();
      for (const [name, value] of new FormData(form)) {
        if (name !== "file") fields.append(name, value);
      }
      let target;
      try {
        const response = await fetch(form.action, {
          method: "POST",
          body: fields,
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        });
        const text = await response.text();
        if (!response.ok || response.redirected) return fail(reason(text, response.status));
        target = JSON.parse(text);
      } catch (problem) {
        return fail("The image could not be created: " + problem.message);
      }

      document.getElementById("upload-progress").hidden = false;
      show(0);
      const request = new XMLHttpRequest();
      request.open("PUT", target.upload);
      request.setRequestHeader("X-CSRF-Token", form.elements.csrf.value);
      request.setRequestHeader("Content-Type", "application/octet-stream");
      request.upload.onprogress = function (progress) {
        if (progress.lengthComputable) show((progress.loaded * 100) / progress.total);
      };
      request.onload = function () {
        if (request.status === 204) {
          show(100);
          // Long enough to see the bar full, then the image's page.
          setTimeout(function () { location.assign(target.next); }, 800);
        } else if (request.responseURL.indexOf("/dashboard/auth/login") !== -1) {
          fail("Your session has ended: sign in again. The image was created without its data.");
        } else {
          fail(reason(request.responseText, request.status) + " (The image was created without its data.)");
        }
      };
      request.onerror = function () {
        fail("The upload was interrupted; the image was created without its data.");
      };
      request.send(file);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    for (const form of document.querySelectorAll("form[data-upload]")) start(form);
  });
})();
