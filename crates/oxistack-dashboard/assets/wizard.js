// oxistack dashboard: the create load balancer wizard's small helps. The
// form works without this script (every field is shown and posted); it
// only hides what does not apply and keeps member ports on the listener's.
//   data-show-if="FIELD=V1,V2": shown while the field FIELD (a select, or
//     a checkbox checked with that value) has one of the values;
//   input[data-member-port]: follows the listener's port until edited.
"use strict";

(function () {
  const form = document.querySelector("form.wizard");
  if (!form) return;

  function currentValues(name) {
    return Array.from(form.elements)
      .filter(function (element) { return element.name === name; })
      .filter(function (element) { return (element.type !== "checkbox" && element.type !== "radio") || element.checked; })
      .map(function (element) { return element.value; });
  }

  function showWhatApplies() {
    for (const element of form.querySelectorAll("[data-show-if]")) {
      const rule = element.getAttribute("data-show-if").split("=");
      const wanted = rule[1].split(",");
      element.hidden = !currentValues(rule[0]).some(function (value) { return wanted.includes(value); });
    }
  }

  const listenerPort = form.elements.namedItem("listener_port");
  let lastListenerPort = listenerPort ? listenerPort.value : "";
  function followListenerPort() {
    for (const port of form.querySelectorAll("input[data-member-port]")) {
      if (port.value === lastListenerPort) port.value = listenerPort.value;
    }
    lastListenerPort = listenerPort.value;
  }

  form.addEventListener("change", showWhatApplies);
  if (listenerPort) listenerPort.addEventListener("input", followListenerPort);
  showWhatApplies();
})();
