// mqttcloud console: copy buttons, live status polling, live tables and charts. No framework, no build.
"use strict";

(function () {
  function copyText(text, button) {
    const done = () => { const old = button.textContent; button.textContent = "✓"; setTimeout(() => { button.textContent = old; }, 1200); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text, done));
    } else {
      fallbackCopy(text, done);
    }
  }
  function fallbackCopy(text, done) {
    const area = document.createElement("textarea");
    area.value = text; area.setAttribute("readonly", ""); area.style.position = "absolute"; area.style.left = "-9999px";
    document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); done(); } finally { document.body.removeChild(area); }
  }
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-copy]");
    if (!button) return;
    const source = document.getElementById(button.dataset.copy);
    if (source) copyText(source.textContent.trim(), button);
  });

  // Poll a JSON endpoint every `interval` ms while the page is visible.
  function poll(url, interval, apply) {
    let timer = null;
    async function tick() {
      try {
        const response = await fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } });
        if (response.ok) apply(await response.json());
      } catch (err) { /* the next tick retries */ }
      timer = setTimeout(tick, interval);
    }
    timer = setTimeout(tick, interval);
    return () => clearTimeout(timer);
  }

  function setStatus(element, status, label) {
    element.textContent = label;
    element.className = element.className.replace(/status-\S+/, "status-" + status);
  }

  // Deployment list: one status per row.
  document.querySelectorAll("table[data-poll]").forEach((table) => {
    poll(table.dataset.poll, 2000, (body) => {
      table.querySelectorAll("[data-status-of]").forEach((cell) => {
        const entry = body[cell.dataset.statusOf];
        if (entry) setStatus(cell, entry.status, entry.label);
      });
    });
  });

  // Deployment overview: status badge, start/stop buttons, addresses.
  document.querySelectorAll("div[data-poll]").forEach((root) => {
    poll(root.dataset.poll, 1000, (body) => {
      const badge = root.querySelector("[data-status]");
      if (badge) setStatus(badge, body.status, body.label);
      root.querySelectorAll("[data-status-text]").forEach((el) => { el.textContent = body.label; });
      root.querySelectorAll("button[data-enabled-in]").forEach((button) => {
        button.disabled = !button.dataset.enabledIn.split(" ").includes(body.status);
      });
    });
  });

  window.mqttcloudConsole = { poll: poll };
})();
