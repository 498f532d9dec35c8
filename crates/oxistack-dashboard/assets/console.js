// oxistack dashboard: the serial console on an instance's details page.
// "Open serial console" asks the dashboard for a console (a POST carrying
// the session's CSRF token in X-CSRF-Token); the dashboard asks Nova and
// answers only the path of the websocket proxy, which is on this same
// host. The vendored xterm.js is loaded then (not with the page: it is
// large), and the websocket's bytes go to the terminal, the keys typed
// back to the instance.
"use strict";

(function () {
  const button = document.getElementById("open-serial-console");
  if (!button) return;
  const status = document.getElementById("serial-console-status");
  const holder = document.getElementById("serial-terminal");
  const encoder = new TextEncoder();
  let socket = null;
  let terminal = null;
  let xterm = null;

  // Progress as a status, a failure as an alert.
  function say(text, failed) {
    status.textContent = text;
    status.className = failed ? "flash flash-error" : "";
    status.setAttribute("role", failed ? "alert" : "status");
  }

  function load(tag, attributes) {
    return new Promise(function (resolve, reject) {
      const element = Object.assign(document.createElement(tag), attributes);
      element.onload = resolve;
      element.onerror = function () { reject(new Error("the terminal could not be loaded")); };
      document.head.appendChild(element);
    });
  }

  function loadXterm() {
    if (window.Terminal) return Promise.resolve();
    if (!xterm) {
      xterm = Promise.all([
        load("link", { rel: "stylesheet", href: button.dataset.xtermStyle }),
        load("script", { src: button.dataset.xtermScript }),
      ]);
    }
    return xterm;
  }

  // The websocket path of a fresh console, or an Error with the API's
  // message (and its HTTP status in status.dataset.failed).
  async function consolePath() {
    const csrf = document.querySelector("input[name=csrf]");
    const response = await fetch(button.dataset.url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf ? csrf.value : "" },
    });
    if (response.redirected || response.status === 401) {
      // Sent to the login page, or the token refused: the session ended.
      status.dataset.failed = "401";
      throw new Error("your session has ended; reload the page to sign in again");
    }
    let answer = {};
    try { answer = await response.json(); } catch (error) { /* not JSON: use the status */ }
    if (response.ok && answer.path) return answer.path;
    status.dataset.failed = String(answer.status || response.status);
    throw new Error(answer.error || (!response.ok && response.statusText) || "the dashboard gave no console");
  }

  function showTerminal() {
    if (terminal) return;
    terminal = new window.Terminal({ cursorBlink: true, rows: 24, scrollback: 2000 });
    terminal.open(holder);
    // The terminal keeps Tab for the guest (shell completion); Escape then
    // Tab lets a keyboard user leave it, as the hint above it says.
    let escaped = false;
    terminal.attachCustomKeyEventHandler(function (event) {
      if (event.type !== "keydown") return true;
      if (event.key === "Tab" && escaped) { escaped = false; return false; }
      escaped = event.key === "Escape";
      return true;
    });
    terminal.onData(function (data) {
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(encoder.encode(data));
    });
  }

  function connect(path) {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const own = new WebSocket(scheme + location.host + path, ["binary"]);
    own.binaryType = "arraybuffer";
    own.onopen = function () {
      say("Connected: what you type in the terminal goes to the instance.");
      button.textContent = "Reconnect serial console";
      button.disabled = false;
      terminal.focus();
    };
    own.onmessage = function (event) {
      terminal.write(typeof event.data === "string" ? event.data : new Uint8Array(event.data));
    };
    own.onclose = function () {
      if (socket !== own) return;
      say("The serial console is closed.");
      button.disabled = false;
    };
    socket = own;
  }

  async function open() {
    button.disabled = true;
    delete status.dataset.failed;
    say("Opening the serial console...");
    if (socket) { const old = socket; socket = null; old.close(); }
    try {
      const path = await consolePath();
      await loadXterm();
      showTerminal();
      connect(path);
    } catch (error) {
      say("Could not open the serial console: " + error.message, true);
      button.disabled = false;
    }
  }

  button.addEventListener("click", open);
})();
