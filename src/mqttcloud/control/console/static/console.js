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

  // Poll a JSON endpoint every `interval` ms while the page is visible (every live part of the console).
  function poll(url, interval, apply) {
    let timer = null;
    async function tick() {
      if (!document.hidden) {
        try {
          const response = await fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } });
          if (response.ok) apply(await response.json());
        } catch (err) { /* the next tick retries */ }
      }
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
      root.querySelectorAll("[data-status-message]").forEach((el) => {
        el.textContent = body.message || ""; el.parentElement.hidden = !body.message;
      });
      root.querySelectorAll("[data-tls-status]").forEach((el) => { if (body.tls) setStatus(el, body.tls, body.tls_label); });
      root.querySelectorAll("button[data-enabled-in]").forEach((button) => {
        button.disabled = !button.dataset.enabledIn.split(" ").includes(body.status);
      });
    });
  });

  // Live clients: re-render the table body from clients.json.
  function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }
  document.querySelectorAll("section[data-clients]").forEach((root) => {
    const body = root.querySelector("#clients-table tbody");
    poll(root.dataset.clients, 2000, (data) => {
      const error = root.querySelector("#clients-error");
      error.hidden = !data.error; error.textContent = data.error || "";
      root.querySelector("#clients-count").textContent = data.count;
      root.querySelector("#clients-empty").hidden = data.rows.length > 0 || !!data.error;
      const rows = data.rows.map((c) => {
        const tr = document.createElement("tr");
        tr.dataset.clientid = c.clientid;
        const id = cell(""); const detail = document.createElement("a");
        detail.href = root.dataset.detail + "?clientid=" + encodeURIComponent(c.clientid); detail.textContent = c.clientid;
        id.appendChild(detail); tr.appendChild(id);
        [c.username, c.address, c.protocol, c.connected_at, String(c.subscriptions)].forEach((v) => tr.appendChild(cell(v)));
        if (root.dataset.canKick === "yes") {  // a link to the kick's confirmation page
          const td = document.createElement("td"); td.className = "row-actions";
          const link = document.createElement("a"); link.className = "danger-link";
          link.href = root.dataset.kick + "?clientid=" + encodeURIComponent(c.clientid);
          link.textContent = root.dataset.kickLabel; td.appendChild(link); tr.appendChild(td);
        }
        return tr;
      });
      body.replaceChildren(...rows);
    });
  });

  // Bulk import with progress: the server parses the file, then rows go in batches.
  const importForm = document.getElementById("import-form");
  if (importForm && window.fetch && window.FormData) {
    importForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const results = document.getElementById("import-results");
      const wrap = document.getElementById("import-progress-wrap");
      const bar = document.getElementById("import-progress");
      const count = document.getElementById("import-count");
      const token = importForm.querySelector("input[name=csrf_token]").value;
      const kind = importForm.querySelector("input[name=kind]").value;
      results.replaceChildren();
      const parsed = await fetch(importForm.dataset.parse, { method: "POST", body: new FormData(importForm), credentials: "same-origin" });
      const answer = await parsed.json();
      if (!parsed.ok) {
        const p = document.createElement("p"); p.className = "error"; p.setAttribute("role", "alert");
        p.textContent = answer.error || parsed.statusText; results.appendChild(p); return;
      }
      const rows = answer.rows; const list = document.createElement("ol"); list.className = "results";
      const summary = document.createElement("p"); summary.className = "notice";
      results.append(summary, list);
      wrap.hidden = false; bar.max = Math.max(rows.length, 1); bar.value = 0;
      let done = 0, ok = 0;
      for (let start = 0; start < rows.length; start += answer.batch) {
        const response = await fetch(importForm.dataset.rows, {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
          body: JSON.stringify({ kind: kind, rows: rows.slice(start, start + answer.batch) }),
        });
        const batch = await response.json();
        if (!response.ok) { summary.textContent = batch.error || response.statusText; summary.className = "error"; return; }
        batch.results.forEach((r) => {
          const li = document.createElement("li"); li.value = r.number; li.className = r.ok ? "ok" : "fail";
          li.textContent = (r.user_id || "—") + ": " + r.message; list.appendChild(li);
          done += 1; if (r.ok) ok += 1;
        });
        bar.value = done; count.textContent = done + " / " + rows.length;
      }
      summary.textContent = importForm.dataset.doneLabel.replace("%d", ok).replace("%d", rows.length) + " ";
      const refresh = document.createElement("a");
      refresh.href = window.location.pathname + window.location.search; refresh.textContent = importForm.dataset.refreshLabel;
      summary.appendChild(refresh);
    });
  }

  // Deployment tabs on one scrolling line (narrow windows): the current tab in view, in the middle,
  // when the page opens and when the window narrows.
  const tabs = document.querySelector("nav.tabs ul");
  const current = tabs && tabs.querySelector("a[aria-current='page']");
  function showCurrentTab() {
    if (tabs.scrollWidth <= tabs.clientWidth) return;
    const item = current.parentElement;
    tabs.scrollLeft = item.offsetLeft - tabs.offsetLeft - (tabs.clientWidth - item.offsetWidth) / 2;
  }
  if (tabs && current) {
    showCurrentTab();
    window.addEventListener("resize", showCurrentTab);
  }

  // After a refused form, put the keyboard on the first field that needs attention.
  const invalid = document.querySelector("[aria-invalid='true']");
  if (invalid && typeof invalid.focus === "function") invalid.focus();

  window.mqttcloudConsole = { poll: poll };
})();
