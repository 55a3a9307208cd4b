// mqttcloud console, Data integration page: refresh rule counters and connector/action statuses.
"use strict";

(function () {
  const root = document.querySelector("[data-poll-integration]");
  if (!root) return;
  function setText(element, text) { if (element && element.textContent !== String(text)) element.textContent = text; }
  function showStatus(row, entry) {
    const label = row.querySelector("[data-status-label]");
    if (label) { setText(label, entry.label); label.className = "status status-" + entry.status; }
    const reason = row.querySelector("[data-status-reason]");
    if (reason) { setText(reason, entry.reason || ""); reason.hidden = !entry.reason; }
  }
  function apply(body) {
    root.querySelectorAll("tr[data-rule]").forEach((row) => {
      const values = body.rules[row.dataset.rule];
      if (!values) return;
      row.querySelectorAll("[data-metric]").forEach((cell) => setText(cell, values[cell.dataset.metric]));
    });
    root.querySelectorAll("tr[data-connector]").forEach((row) => {
      const entry = body.connectors[row.dataset.connector];
      if (entry) showStatus(row, entry);
    });
    root.querySelectorAll("tr[data-action]").forEach((row) => {
      const entry = body.actions[row.dataset.action];
      if (!entry) return;
      showStatus(row, entry);
      row.querySelectorAll("[data-metric]").forEach((cell) => setText(cell, entry[cell.dataset.metric]));
    });
  }
  window.mqttcloudConsole.poll(root.dataset.pollIntegration, 2000, apply);  // console.js runs first
})();
