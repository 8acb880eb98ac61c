// The dashboard's audit panel: the latest entries of /admin/audit (text only, no HTML).
"use strict";

function auditValues(values) {
  const pairs = Object.entries(values || {});
  return pairs.length ? pairs.map(([k, v]) => k + "=" + v).join(", ") : "-";
}

async function refreshAudit() {
  const body = document.querySelector("#audit-table tbody");
  if (!body) return;
  try {
    const resp = await fetch("/admin/audit?limit=20", { credentials: "same-origin", cache: "no-store" });
    if (!resp.ok) return;
    const page = await resp.json();
    body.replaceChildren();
    for (const e of page.entries) {
      const tr = document.createElement("tr");
      tr.dataset.action = e.action;
      const when = new Date(e.ts * 1000).toISOString().replace("T", " ").slice(0, 19);
      for (const text of [when, e.actor, e.action, e.target, auditValues(e.after), e.source]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      body.append(tr);
    }
  } catch (err) {
    console.error("audit refresh failed: " + err);
  }
}

refreshAudit();
setInterval(refreshAudit, 10000);
