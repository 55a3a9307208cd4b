// mqttcloud console charts: a deployment's stored monitoring history as inline SVG. No framework, no build.
// Each chart is drawn at its element's own pixel width (redrawn on resize), so text is never stretched;
// legends are HTML and wrap. A missing period (no sample) or an unknown rate breaks the line: gaps are gaps.
(function () {
  "use strict";
  const root = document.getElementById("charts");
  if (!root) return;
  const SVG = "http://www.w3.org/2000/svg";
  const HEIGHT = 190, LEFT = 52, RIGHT = 14, TOP = 10, BOTTOM = 26;
  const figures = Array.from(root.querySelectorAll(".chart-card"));
  const error = document.getElementById("metrics-error");
  let data = null;

  function node(name, attrs, text) {
    const element = document.createElementNS(SVG, name);
    Object.entries(attrs).forEach(([k, v]) => element.setAttribute(k, String(v)));
    if (text !== undefined) element.textContent = text;
    return element;
  }
  function pad(n) { return String(n).padStart(2, "0"); }
  function timeLabel(t, span) {
    const d = new Date(t * 1000);
    const hm = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
    return span > 86400 ? `${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${hm}` : hm;
  }
  // The y axis: gridlines at 0, half and the top. Bytes and counts are whole numbers, so their top is
  // twice a whole step: bytes in binary units with a power-of-two step (512B, 1KiB, 2KiB...), counts in
  // 1-2-5 steps (500, 1k, 2k...). Rates of messages may be fractions (0.5 a second is real).
  const BINARY = ["B", "KiB", "MiB", "GiB", "TiB"], DECIMAL = ["", "k", "M", "G", "T"];
  function scaled(v, units, base) {
    let i = 0;
    while (Math.abs(v) >= base && i < units.length - 1 && Number.isInteger(v / base)) { v /= base; i += 1; }
    return [v, units[i]];
  }
  function axisLabel(v, kind) {
    if (v === 0) return "0";
    if (kind === "bytes") { const [n, unit] = scaled(v, BINARY, 1024); return String(n) + unit; }
    if (kind === "count") { const [n, unit] = scaled(v, DECIMAL, 1000); return String(n) + unit; }
    let i = 0;
    while (Math.abs(v) >= 1000 && i < DECIMAL.length - 1) { v /= 1000; i += 1; }
    const text = Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(1);
    return text + DECIMAL[i];
  }
  function wholeStep(half, kind) {
    if (kind === "bytes") { let step = 1; while (step < half) step *= 2; return step; }
    let magnitude = 1;
    while (magnitude * 10 < half) magnitude *= 10;
    for (const f of [1, 2, 5, 10]) { if (half <= f * magnitude) return f * magnitude; }
    return 10 * magnitude;
  }
  function axisMax(value, kind) {
    if (kind === "bytes" || kind === "count") return 2 * wholeStep(Math.max(1, value / 2), kind);
    if (value <= 1) return 1;
    const magnitude = Math.pow(10, Math.floor(Math.log10(value)));
    for (const f of [1, 2, 2.5, 5, 10]) { if (value <= f * magnitude) return f * magnitude; }
    return 10 * magnitude;
  }
  // Runs of consecutive points with a value, no two further apart than 1.5 steps.
  function segments(points, name, step) {
    const runs = [];
    let run = [], previousAt = null;
    points.forEach((p) => {
      const value = p[name];
      const broken = value === null || value === undefined || (previousAt !== null && p.at - previousAt > 1.5 * step);
      if (broken && run.length) { runs.push(run); run = []; }
      if (value !== null && value !== undefined) run.push([p.at, value]);
      previousAt = p.at;
    });
    if (run.length) runs.push(run);
    return runs;
  }

  function draw(figure) {
    const svg = figure.querySelector("svg.chart");
    const width = Math.max(260, Math.round(svg.getBoundingClientRect().width || 600));
    svg.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
    svg.replaceChildren();
    const kind = figure.dataset.kind;
    const series = Array.from(figure.querySelectorAll(".legend [data-series]"))
      .map((li) => ({ name: li.dataset.series, color: li.dataset.color, label: li.textContent.trim() }));
    const since = data.since, until = data.until, span = until - since;
    const values = series.flatMap((s) => data.points.map((p) => p[s.name]).filter((v) => v !== null && v !== undefined));
    const max = axisMax(Math.max(0, ...values), kind);
    const x = (t) => LEFT + (width - LEFT - RIGHT) * (t - since) / span;
    const y = (v) => HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * v / max;
    [0, 0.5, 1].forEach((f) => {
      const yy = y(max * f).toFixed(1);
      svg.appendChild(node("line", { x1: LEFT, x2: width - RIGHT, y1: yy, y2: yy, stroke: f === 0 ? "#9aa5b5" : "#e3e7ee" }));
      svg.appendChild(node("text", { x: LEFT - 6, y: Number(yy) + 4, "text-anchor": "end", "data-axis": "y" }, axisLabel(max * f, kind)));
    });
    const ticks = width < 420 ? 3 : 5;
    for (let i = 0; i < ticks; i += 1) {
      const t = since + span * i / (ticks - 1);
      const anchor = i === 0 ? "start" : i === ticks - 1 ? "end" : "middle";
      svg.appendChild(node("text", { x: x(t).toFixed(1), y: HEIGHT - 8, "text-anchor": anchor }, timeLabel(t, span)));
    }
    let drawn = 0;
    series.forEach((s) => {
      segments(data.points, s.name, data.step).forEach((run) => {
        drawn += run.length;
        if (run.length === 1) {
          svg.appendChild(node("circle", { cx: x(run[0][0]).toFixed(1), cy: y(run[0][1]).toFixed(1), r: 2.5, fill: s.color, "data-series": s.name }));
          return;
        }
        const line = node("polyline", {
          points: run.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" "),
          fill: "none", stroke: s.color, "stroke-width": 2, "stroke-linejoin": "round", "data-series": s.name,
        });
        line.appendChild(node("title", {}, s.label));
        svg.appendChild(line);
      });
    });
    svg.dataset.points = String(drawn);
    if (!values.length) {
      svg.appendChild(node("text", { x: width / 2, y: HEIGHT / 2, "text-anchor": "middle", class: "empty" }, root.dataset.labelEmpty));
    }
  }

  function showNewest() {
    const last = data.points[data.points.length - 1];
    document.querySelectorAll("#current-stats [data-stat]").forEach((dd) => {
      const value = last ? last[dd.dataset.stat] : null;
      dd.textContent = value === null || value === undefined ? "—" : String(Math.round(value));
    });
    const at = document.getElementById("now-at");
    if (at) at.textContent = last ? new Date(last.at * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "";
  }

  function drawAll() {
    if (!data) return;
    figures.forEach(draw);
    showNewest();
    root.dataset.loaded = String(data.points.length);
  }

  async function load() {
    try {
      const response = await fetch(root.dataset.metrics, { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) throw new Error(String(response.status));
      data = await response.json();
      error.hidden = true;
      drawAll();
    } catch (_failure) {
      error.hidden = false;
      error.textContent = root.dataset.labelError;
    }
  }

  const refresh = Math.max(2, Number(root.dataset.refresh) || 10) * 1000;
  load();
  setInterval(() => { if (!document.hidden) load(); }, refresh);
  let resizeTimer = null;
  window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(drawAll, 100); });
})();
