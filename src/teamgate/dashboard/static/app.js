// teamgate dashboard: reads /admin/overview every 10 s and draws inline SVG charts.
// No framework, no CDN, no build step.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#65a30d", "#db2777"];
const REFRESH_MS = 10000;

// Exact dollars ("12.345000000000") to "$12.35", rounding half up with BigInt (no float).
function usd(text) {
  if (text === null || text === undefined) return "-";
  let negative = text.startsWith("-");
  let [whole, frac = ""] = (negative ? text.slice(1) : text).split(".");
  frac = (frac + "000000000000").slice(0, 12);
  let pico = BigInt(whole) * 1000000000000n + BigInt(frac);
  let cents = (pico + 5000000000n) / 10000000000n;
  let out = "$" + (cents / 100n).toString() + "." + (cents % 100n).toString().padStart(2, "0");
  return negative && cents > 0n ? "-" + out : out;
}

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function colorOf(names) {
  const map = {};
  names.forEach((n, i) => { map[n] = COLORS[i % COLORS.length]; });
  return map;
}

function hbars(container, rows, label) {
  // rows: [{name, value, text}] drawn as horizontal bars
  container.replaceChildren();
  const width = 640, row = 26, left = 260;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${Math.max(rows.length, 1) * row + 8}`, role: "img", "aria-label": label });
  const max = Math.max(...rows.map(r => r.value), 1e-12);
  rows.forEach((r, i) => {
    const y = i * row + 4;
    chart.append(svg("text", { x: 0, y: y + 16, class: "label" }, r.name));
    chart.append(svg("rect", { x: left, y, width: Math.max(1, (width - left - 90) * r.value / max), height: row - 8, fill: COLORS[i % COLORS.length] }));
    chart.append(svg("text", { x: width - 85, y: y + 16, class: "value" }, r.text));
  });
  if (!rows.length) chart.append(svg("text", { x: 0, y: 20, class: "label" }, "nothing this month"));
  container.append(chart);
}

function budgetChart(container, teams) {
  container.replaceChildren();
  const width = 640, row = 34, left = 110, span = width - left - 20;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${teams.length * row + 10}`, role: "img", "aria-label": "spend against budget" });
  teams.forEach((t, i) => {
    const y = i * row + 5;
    const budget = t.budget_usd === null ? null : Number(t.budget_usd);
    const scale = budget || Math.max(Number(t.projected_usd), Number(t.spent_usd), 1e-12);
    const spentW = Math.min(1, Number(t.spent_usd) / scale) * span;
    const projW = Math.min(1, Number(t.projected_usd) / scale) * span;
    chart.append(svg("text", { x: 0, y: y + 17, class: "label" }, t.team));
    chart.append(svg("rect", { x: left, y, width: span, height: row - 12, class: "track" }));
    chart.append(svg("rect", { x: left, y, width: projW, height: row - 12, class: "projected" }));
    chart.append(svg("rect", { x: left, y, width: spentW, height: row - 12, class: Number(t.projected_usd) > (budget ?? Infinity) ? "spent over" : "spent" }));
  });
  container.append(chart);
}

function dailyChart(container, days, daily, teams) {
  container.replaceChildren();
  const width = 640, height = 220, left = 50, bottom = 24;
  const colors = colorOf(teams);
  const byDay = {};
  for (const d of daily) (byDay[d.day] ||= []).push(d);
  const totals = days.map(day => (byDay[day] || []).reduce((s, d) => s + Number(d.cost_usd), 0));
  const max = Math.max(...totals, 1e-12);
  const slot = (width - left) / Math.max(days.length, 1);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "daily spend per team" });
  chart.append(svg("text", { x: 0, y: 12, class: "value" }, usd(max.toFixed(12))));
  days.forEach((day, i) => {
    let y = height - bottom;
    for (const d of (byDay[day] || [])) {
      const h = (height - bottom - 20) * Number(d.cost_usd) / max;
      y -= h;
      const bar = svg("rect", { x: left + i * slot + 1, y, width: Math.max(1, slot - 2), height: h, fill: colors[d.team] });
      bar.append(svg("title", {}, `${day} ${d.team}: ${usd(d.cost_usd)}`));
      chart.append(bar);
    }
    if (i % 5 === 0) chart.append(svg("text", { x: left + i * slot, y: height - 6, class: "tick" }, day.slice(5)));
  });
  const legend = el("p", { class: "legend" });
  teams.forEach(t => { const s = el("span", { class: "swatch" }, t); s.dataset.color = colors[t]; legend.append(s); });
  container.append(chart, legend);
  legend.querySelectorAll(".swatch").forEach(s => { s.style.borderColor = s.dataset.color; });
}

function render(data) {
  document.getElementById("period").textContent = `${data.period} (${data.timezone})`;
  document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  const body = document.querySelector("#teams tbody");
  body.replaceChildren();
  for (const t of data.teams) {
    const used = t.budget_usd === null ? "-" : (100 * Number(t.spent_usd) / Number(t.budget_usd)).toFixed(1) + "%";
    const tr = el("tr", { "data-team": t.team });
    tr.append(el("td", {}, t.team), el("td", { class: "num spent" }, usd(t.spent_usd)),
      el("td", { class: "num budget" }, usd(t.budget_usd)), el("td", { class: "num" }, used),
      el("td", { class: "num projected" }, usd(t.projected_usd)),
      el("td", { class: "runs-out" }, t.runs_out_on || (t.budget_usd === null ? "no budget" : "lasts the month")));
    body.append(tr);
  }
  const org = el("tr", { "data-team": "org", class: "org" });
  org.append(el("td", {}, "organization"), el("td", { class: "num spent" }, usd(data.org.spent_usd)),
    el("td", { class: "num budget" }, usd(data.org.budget_usd)), el("td", {}, ""),
    el("td", { class: "num projected" }, usd(data.org.projected_usd)),
    el("td", { class: "runs-out" }, data.org.runs_out_on || "lasts the month"));
  body.append(org);
  budgetChart(document.getElementById("budget-chart"), data.teams);
  dailyChart(document.getElementById("daily-chart"), data.days, data.daily, data.teams.map(t => t.team));
  hbars(document.getElementById("model-chart"), data.models.map(m => ({ name: m.model, value: Number(m.cost_usd), text: usd(m.cost_usd) })), "model mix by cost");
  hbars(document.getElementById("refusal-chart"), data.refusals.map(r => ({ name: r.reason, value: r.count, text: String(r.count) })), "refusals by reason");
  const up = document.querySelector("#upstream tbody");
  up.replaceChildren();
  for (const p of data.upstream) for (const k of p.keys) {
    const tr = el("tr", { "data-key": k.name });
    tr.append(el("td", {}, p.project), el("td", {}, k.name), el("td", { class: "state " + k.state }, k.state + (k.backing_off ? " (failing)" : "")),
      el("td", {}, k.fingerprint), el("td", { class: "num" }, String(k.requests)), el("td", { class: "num" }, String(k.failures)),
      el("td", {}, k.last_used ? k.last_used.replace("T", " ").slice(0, 19) : "never"));
    up.append(tr);
  }
  document.body.dataset.loaded = "true";
}

async function refresh() {
  try {
    const resp = await fetch("/admin/overview", { credentials: "same-origin", cache: "no-store" });
    if (resp.status === 401 || resp.status === 403) { window.location.href = "/dashboard/login"; return; }
    if (resp.ok) render(await resp.json());
  } catch (err) {
    console.error("dashboard refresh failed: " + err);
    document.getElementById("updated").textContent = "refresh failed; retrying";
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
