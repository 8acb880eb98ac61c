// The dashboard's actions: pause / resume (team, environment, key) and key create, rotate,
// revoke. Each is a POST to the admin API with the session cookie and the session's CSRF
// token in x-csrf-token; the admin API's role check decides. What is offered comes from
// /dashboard/api/pauses (can_pause) and /dashboard/api/keys (can_create, each key's actions).
"use strict";

function csrfToken() {
  const input = document.querySelector("header .signout input[name=csrf]");
  return input ? input.value : "";
}

async function act(path, body) {
  const resp = await fetch(path, {
    method: "POST", credentials: "same-origin", cache: "no-store",
    headers: { "content-type": "application/json", "x-csrf-token": csrfToken() },
    body: JSON.stringify(body || {}),
  });
  let data = null;
  try { data = await resp.json(); } catch (err) { data = null; }
  if (!resp.ok) throw new Error((data && data.error && data.error.message) || `HTTP ${resp.status}`);
  return data;
}

function say(text, failed) {
  const out = document.getElementById("action-status");
  out.textContent = text;
  out.classList.toggle("error", Boolean(failed));
}

async function perform(label, fn) {
  try {
    const result = await fn();
    say(`${label}: done`);
    await refreshControls();
    return result;
  } catch (err) {
    say(`${label}: ${err.message}`, true);
    return null;
  }
}

function showSecret(name, secret) {
  const out = document.getElementById("new-secret");
  out.replaceChildren(document.createTextNode(`${name}: `), el("code", {}, secret),
    document.createTextNode(" (shown once: copy it now)"));
}

// ---- the keys view's Actions column ----
function keyActions(cell, k) {
  for (const action of k.actions || []) {
    const button = el("button", { type: "button", class: "small", "data-action": action, "aria-label": `${action} ${k.name}` }, action);
    button.addEventListener("click", () => keyAction(action, k));
    cell.append(button);
  }
}

async function keyAction(action, k) {
  const path = `/admin/keys/${encodeURIComponent(k.name)}`;
  if (action === "rotate") {
    const done = await perform(`rotate ${k.name}`, () => act(`${path}/rotate`, {}));
    if (done) showSecret(done.new.name, done.new.key);
  } else if (action === "revoke") {
    if (window.confirm(`Revoke ${k.name}? Its clients are refused at once.`)) {
      await perform(`revoke ${k.name}`, () => act(`${path}/revoke`, {}));
    }
  } else if (action === "pause") {
    const reason = window.prompt(`Why pause ${k.name}? Its clients see the reason.`);
    if (reason) await perform(`pause ${k.name}`, () => act("/admin/pauses", { scope: `key:${k.name}`, reason }));
  }
}

function keyForm(data) {
  const form = document.getElementById("key-form");
  const teams = Object.keys(data.can_create || {});
  form.hidden = teams.length === 0;
  for (const option of form.querySelectorAll("select[name=team] option")) option.hidden = !teams.includes(option.value);
}

// ---- the pauses section ----
function pausesTable(data) {
  const form = document.getElementById("pause-form");
  const teams = Object.keys(data.can_pause || {});
  form.hidden = teams.length === 0;
  for (const option of form.querySelectorAll("select[name=team] option")) option.hidden = !teams.includes(option.value);
  fill("pause-table", data.pauses.map(p => {
    const tr = row([[p.scope], [p.reason], [when(p.paused_at)], [p.until ? when(p.until) : "until resumed"], [p.actor],
      [p.active ? "paused" : "ended", "state " + (p.active ? "paused" : "ended")], ["", "actions"]]);
    tr.dataset.scope = p.scope;
    if (p.active && teams.includes(p.team)) {
      const button = el("button", { type: "button", class: "small", "data-action": "resume", "aria-label": `resume ${p.scope}` }, "resume");
      button.addEventListener("click", () => perform(`resume ${p.scope}`, () => act("/admin/pauses/resume", { scope: p.scope })));
      tr.querySelector("td.actions").append(button);
    }
    return tr;
  }), "nothing is paused");
}

async function refreshControls() {
  const [pauses, keys] = await Promise.all([api("pauses"), api("keys")]);
  pausesTable(pauses);
  keysTable(keys);
}

document.getElementById("pause-form").addEventListener("submit", ev => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const kind = f.get("kind");
  const scope = kind === "key" ? `key:${f.get("key")}` : kind === "env" ? `env:${f.get("team")}/${f.get("env")}` : `team:${f.get("team")}`;
  const body = { scope, reason: f.get("reason") };
  if (f.get("until")) body.until = f.get("until");
  perform(`pause ${scope}`, () => act("/admin/pauses", body)).then(done => { if (done) ev.target.reset(); });
});
document.querySelector("#pause-form select[name=kind]").addEventListener("change", ev => {
  document.getElementById("pause-form").dataset.kind = ev.target.value;
});
document.getElementById("key-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const body = { team: f.get("team"), environment: f.get("environment"), purpose: f.get("purpose") };
  if (f.get("expires_in")) body.expires_in = f.get("expires_in");
  const made = await perform(`create key for ${body.team}`, () => act("/admin/keys", body));
  if (made) { showSecret(made.name, made.key); ev.target.reset(); }
});
