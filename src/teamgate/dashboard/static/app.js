// teamgate dashboard: one page, a scope (org or a team) and a time range in the URL,
// sections drawn from /dashboard/api/* (and /admin/upstream). No framework, no CDN.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
// Colour-blind-safe (after Okabe & Ito), each at least 3:1 against white (WCAG non-text).
const COLORS = ["#0072B2", "#B8540A", "#00785A", "#A8327A", "#5C5C5C", "#6F4FB0", "#2C6E8F", "#8A5A00"];
const REFRESH_MS = 10000;
const PICO = 1000000000000n;

// Exact dollars ("12.345000000000") -> integer picodollars, with BigInt (no float).
function pico(text) {
  const negative = text.startsWith("-");
  let [whole, frac = ""] = (negative ? text.slice(1) : text).split(".");
  frac = (frac + "000000000000").slice(0, 12);
  const value = BigInt(whole) * PICO + BigInt(frac);
  return negative ? -value : value;
}

// The one money format (as teamgate.text.display.money): "$1,234.57"; below a cent, three
// significant digits ("$0.000098") so a small amount never reads "$0.00".
function usd(text) {
  return text === null || text === undefined ? "-" : money(pico(text));
}

function money(p) {
  const sign = p < 0n ? "-" : "";
  if (p < 0n) p = -p;
  if (p > 0n && p < 10000000000n) {
    const places = Math.min(12 - p.toString().length + 3, 12);
    const unit = 10n ** BigInt(12 - places);
    const rounded = (p + unit / 2n) / unit;
    const digits = rounded.toString().padStart(places, "0").replace(/0+$/, "");
    return `${sign}$0.${digits}`;
  }
  const cents = (p + 5000000000n) / 10000000000n;
  const dollars = (cents / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const out = `$${dollars}.${(cents % 100n).toString().padStart(2, "0")}`;
  return cents === 0n ? out : sign + out;
}

// part / whole to a tenth of a percent, rounded down (as teamgate.text.display.percent).
function percent(part, whole) {
  if (whole === null || whole === undefined) return "-";
  const w = pico(whole);
  if (w === 0n) return "-";
  const tenths = pico(part) * 1000n / w;
  return `${tenths / 10n}.${tenths % 10n}%`;
}

// "+$1.23 (+4.5%)" against the previous range of the same length.
function change(now, before) {
  const b = pico(before), diff = pico(now) - b;
  const size = diff < 0n ? -diff : diff;
  const text = (diff < 0n ? "-" : "+") + money(size);
  if (b === 0n) return text;
  const tenths = size * 1000n / b;
  return `${text} (${diff < 0n ? "-" : "+"}${tenths / 10n}.${tenths % 10n}%)`;
}

function when(iso) {
  return iso ? iso.replace(/:\d\dZ$/, "Z") : "never";
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

function row(cells) {
  const tr = el("tr");
  for (const [text, cls] of cells) tr.append(el("td", cls ? { class: cls } : {}, text));
  return tr;
}

function fill(id, rows, empty) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren(...rows);
  if (!rows.length) {
    const cols = document.querySelectorAll(`#${id} thead th`).length;
    const tr = el("tr");
    tr.append(el("td", { colspan: cols, class: "empty" }, empty));
    body.append(tr);
  }
}

function legend(id, items) {
  const p = document.getElementById(id);
  p.replaceChildren();
  for (const [name, color, mark] of items) {
    const s = el("span", { class: "swatch" + (mark ? " " + mark : "") });
    s.append(el("span", { class: "chip", "aria-hidden": "true" }), document.createTextNode(name));
    p.append(s);
    s.firstChild.style.background = color;
  }
}

// ---- the view: scope and range, kept in the URL ----
function view() {
  const q = new URLSearchParams(window.location.search);
  // the first scope offered: the organization, or a team admin's (viewer's) own team
  const first = document.getElementById("scope").options[0];
  const v = { scope: q.get("scope") || (first ? first.value : "org"), range: q.get("range") || "month" };
  if (v.range === "custom") { v.from = q.get("from") || ""; v.to = q.get("to") || ""; }
  return v;
}

function query(extra = {}) {
  return new URLSearchParams({ ...view(), ...extra }).toString();
}

function showView() {
  const v = view();
  document.getElementById("scope").value = v.scope;
  document.getElementById("range").value = v.range;
  document.getElementById("from").value = v.from || "";
  document.getElementById("to").value = v.to || "";
  document.body.dataset.range = v.range;
  document.getElementById("upstream").hidden = v.scope !== "org";
}

async function api(name, extra) {
  const resp = await fetch(`/dashboard/api/${name}?${query(extra)}`, { credentials: "same-origin", cache: "no-store" });
  if (resp.status === 401 || resp.status === 403) { window.location.href = "/dashboard/login"; throw new Error("signed out"); }
  if (!resp.ok) throw new Error(`${name}: ${resp.status}`);
  return resp.json();
}

// ---- sections ----
function budgetChart(data) {
  const box = document.getElementById("budget-chart");
  box.replaceChildren();
  const lines = data.org ? [...data.teams, { team: "organization", ...data.org }] : data.teams;
  const width = Math.max(box.clientWidth, 280), left = Math.min(120, width * 0.3), span = width - left - 12;
  const rowH = 30, top = 18;
  const described = lines.map(t => `${t.team}: ${usd(t.month_spent.usd)} of ${usd(t.budget.usd)}, projected ${usd(t.projected.usd)}`).join("; ");
  const chart = svg("svg", { viewBox: `0 0 ${width} ${lines.length * rowH + top + 4}`, width, role: "img", "aria-label": "Spend against budget this month. " + described + ". The table below has the figures." });
  const marks = data.thresholds.map(Number);
  for (const m of marks) {
    chart.append(svg("text", { x: left + span * m - 10, y: 12, class: "tick" }, `${Math.round(m * 100)}%`));
  }
  lines.forEach((t, i) => {
    const y = top + i * rowH;
    const budget = t.budget.pusd === null ? null : Number(t.budget.usd);
    const spent = Number(t.month_spent.usd), projected = Number(t.projected.usd);
    const scale = budget || Math.max(projected, spent, 1e-12);
    chart.append(svg("text", { x: 0, y: y + 15, class: "label" }, t.team));
    chart.append(svg("rect", { x: left, y, width: span, height: rowH - 10, class: "track" }));
    chart.append(svg("rect", { x: left, y, width: Math.min(1, projected / scale) * span, height: rowH - 10, class: "projected" }));
    const over = budget !== null && projected > budget;
    chart.append(svg("rect", { x: left, y, width: Math.min(1, spent / scale) * span, height: rowH - 10, class: over ? "spent over" : "spent" }));
    if (budget !== null) for (const m of marks) chart.append(svg("line", { x1: left + span * m, x2: left + span * m, y1: y - 2, y2: y + rowH - 8, class: "marker" }));
    if (over) chart.append(svg("text", { x: left + span - 4, y: y + 15, class: "flag", "text-anchor": "end" }, "projected over"));
  });
  box.append(chart);
  legend("budget-legend", [["spent", "#0072B2"], ["spent, projected over budget", "#B8540A"], ["projected to month end", "#9CC7E6"], ["50 / 80 / 95 % of budget", "#1F2937", "line"]]);
  const rows = lines.map(t => {
    const tr = row([[t.team], [usd(t.month_spent.usd), "num spent"], [usd(t.budget.usd), "num budget"],
      [percent(t.month_spent.usd, t.budget.usd), "num used"], [usd(t.projected.usd), "num"],
      [t.runs_out_at ? t.runs_out_at.slice(0, 10) : (t.budget.pusd === null ? "no budget" : "lasts the month"), "runs-out"],
      [t.range_cost ? usd(t.range_cost.usd) : "-", "num"],
      [t.range_cost ? change(t.range_cost.usd, t.previous_cost.usd) : "-", "num change"]]);
    tr.dataset.team = t.team === "organization" ? "org" : t.team;
    return tr;
  });
  fill("budget", rows, "no teams");
}

function teamsTable(data) {
  fill("team-table", data.teams.map(t => {
    const refused = Object.values(t.refusals).reduce((a, b) => a + b, 0);
    const reasons = Object.entries(t.refusals).sort((a, b) => b[1] - a[1]).map(([r, n]) => `${r} ${n.toLocaleString("en")}`).join(", ") || "-";
    const tr = row([[t.team], [t.requests.toLocaleString("en"), "num"], [refused.toLocaleString("en"), "num"], [reasons, "reasons"],
      [t.errors.toLocaleString("en"), "num"], [usd(t.cost_usd), "num"], [change(t.cost_usd, t.previous_cost.usd), "num"]]);
    tr.dataset.team = t.team;
    return tr;
  }), "no teams");
}

function keysTable(data) {
  fill("key-table", data.keys.map(k => {
    const tr = row([[k.name], [k.team], [k.state, "state " + k.state], [k.flags.join(", ") || "-", "flags"],
      [k.requests.toLocaleString("en"), "num"], [k.refusals.toLocaleString("en"), "num"], [usd(k.cost.usd), "num"],
      [when(k.last_used_at)], [k.expires_at ? when(k.expires_at) : "never"], ["", "actions"]]);
    tr.dataset.key = k.name;
    keyActions(tr.querySelector("td.actions"), k);  // actions.js
    return tr;
  }), "no keys in this scope");
  keyForm(data);
}

function modelsChart(data) {
  const box = document.getElementById("model-chart");
  box.replaceChildren();
  const models = data.models.map(m => m.model);
  const colors = {};
  models.forEach((m, i) => { colors[m] = COLORS[i % COLORS.length]; });
  const days = [...new Set(data.daily.map(d => d.day))].sort();
  const byDay = {};
  for (const d of data.daily) (byDay[d.day] ||= []).push(d);
  const totals = days.map(day => byDay[day].reduce((s, d) => s + Number(d.cost.usd), 0));
  const max = Math.max(...totals, 1e-12);
  const width = Math.max(box.clientWidth, 280), height = 180, left = 8, bottom = 20;
  const slot = (width - left) / Math.max(days.length, 1);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, role: "img", "aria-label": `Cost per model per day: ${days.length} days, ${models.length} models. The table below has the totals.` });
  days.forEach((day, i) => {
    let y = height - bottom;
    for (const d of byDay[day]) {
      const h = (height - bottom - 10) * Number(d.cost.usd) / max;
      y -= h;
      const bar = svg("rect", { x: left + i * slot + 1, y, width: Math.max(1, slot - 2), height: h, fill: colors[d.model] });
      bar.append(svg("title", {}, `${day} ${d.model}: ${usd(d.cost.usd)}`));
      chart.append(bar);
    }
    if (days.length < 8 || i % Math.ceil(days.length / 6) === 0) chart.append(svg("text", { x: left + i * slot, y: height - 5, class: "tick" }, day.slice(5)));
  });
  if (!days.length) chart.append(svg("text", { x: 0, y: 20, class: "label" }, "no spend in this range"));
  box.append(chart);
  legend("model-legend", models.map(m => [m, colors[m]]));
  fill("model-table", data.models.map(m => row([[m.model], [usd(m.cost.usd), "num"]])), "no spend in this range");
}

function attributionTable(id, part, none) {
  const rows = part.top.map(t => {
    const tr = row([[t.value || none], [t.team], [t.requests.toLocaleString("en"), "num"], [usd(t.cost.usd), "num"]]);
    tr.dataset.team = t.team;
    tr.dataset.value = t.value;
    return tr;
  });
  if (part.others.values) {
    rows.push(row([[`${part.others.values.toLocaleString("en")} others`], ["-"], [part.others.requests.toLocaleString("en"), "num"], [usd(part.others.cost.usd), "num"]]));
  }
  if (rows.length) rows.push(row([["total"], ["-"], [part.total.requests.toLocaleString("en"), "num"], [usd(part.total.cost.usd), "num"]]));
  fill(id, rows, "no requests in this range");
}

function attributionTables(data) {
  attributionTable("user-table", data.users, "(none)");
  attributionTable("tag-table", data.tags, `(no ${data.tag} tag)`);
  document.querySelector("#tag-table caption").textContent = `Top ${data.tag} values by cost`;
}

function upstreamTable(projects) {
  const rows = [];
  for (const p of projects) for (const k of p.keys) {
    const tr = row([[p.project], [k.name], [k.state + (k.backing_off ? " (failing)" : ""), "state " + k.state], [k.fingerprint],
      [k.requests_24h.toLocaleString("en"), "num"], [k.requests.toLocaleString("en"), "num"], [k.failures.toLocaleString("en"), "num"], [when(k.last_used)]]);
    tr.dataset.key = k.name;
    rows.push(tr);
  }
  fill("upstream-table", rows, "no upstream keys");
}

// ---- the request log: filters, paging, CSV ----
let logNext = null;

function logFilters() {
  const form = new FormData(document.getElementById("log-filters"));
  const out = {};
  for (const [k, v] of form.entries()) if (v) out[k] = v;
  return out;
}

async function loadLog(more) {
  const filters = logFilters();
  const body = await api("requests", { ...filters, limit: "50", ...(more && logNext ? { after: String(logNext) } : {}) });
  const rows = body.requests.map(r => {
    const tr = row([[r.ts.replace(/\.\d+Z$/, "Z")], [r.team], [r.client_key], [r.model_served || r.model_requested], [String(r.status), "num"],
      [r.refusal || "-"], [(r.prompt_tokens + r.completion_tokens).toLocaleString("en"), "num"], [usd(r.cost_usd), "num"]]);
    tr.dataset.status = String(r.status);
    return tr;
  });
  const tbody = document.querySelector("#log-table tbody");
  if (more) tbody.append(...rows); else fill("log-table", rows, "no requests match");
  logNext = body.next;
  document.getElementById("log-more").hidden = !logNext;
  document.getElementById("log-csv").href = `/dashboard/api/requests?${query({ ...filters, format: "csv" })}`;
}

// ---- refresh, and stale marking when it fails ----
let lastGood = null;

async function refresh() {
  try {
    const tag = document.getElementById("tag").value || "feature";
    const [overview, teams, keys, models, pauses, attribution] = await Promise.all(
      [api("overview"), api("teams"), api("keys"), api("models"), api("pauses"), api("attribution", { tag })]);
    budgetChart(overview);
    teamsTable(teams);
    keysTable(keys);
    pausesTable(pauses);  // actions.js
    modelsChart(models);
    attributionTables(attribution);
    if (view().scope === "org") {
      const resp = await fetch("/admin/upstream", { credentials: "same-origin", cache: "no-store" });
      if (resp.ok) upstreamTable((await resp.json()).projects);
    }
    lastGood = new Date();
    document.body.classList.remove("stale");
    document.getElementById("updated").textContent = `${overview.range.label} · updated ${lastGood.toLocaleTimeString("en-GB")}`;
    document.body.dataset.loaded = "true";
  } catch (err) {
    if (String(err).includes("signed out")) return;
    document.body.classList.add("stale");
    document.getElementById("updated").textContent = lastGood
      ? `Stale: showing data from ${lastGood.toLocaleTimeString("en-GB")}; refresh failed, retrying`
      : "Could not load the data; retrying";
  }
}

document.getElementById("view").addEventListener("submit", ev => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  const q = new URLSearchParams({ scope: form.get("scope"), range: form.get("range") });
  if (form.get("range") === "custom") { q.set("from", form.get("from")); q.set("to", form.get("to")); }
  history.replaceState(null, "", `?${q}`);
  showView();
  refresh();
  loadLog(false);
});
document.getElementById("range").addEventListener("change", ev => { document.body.dataset.range = ev.target.value; });
document.getElementById("tag-form").addEventListener("submit", ev => { ev.preventDefault(); refresh(); });
document.getElementById("log-filters").addEventListener("submit", ev => { ev.preventDefault(); loadLog(false); });
document.getElementById("log-more").addEventListener("click", () => loadLog(true));

showView();
refresh();
loadLog(false).catch(() => {});
setInterval(refresh, REFRESH_MS);
