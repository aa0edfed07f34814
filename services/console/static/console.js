// Brink console: live alert list (Server-Sent Events) and the write actions (silence,
// acknowledge, false alarm, expire). No framework, no build step. Every piece of alert text
// goes into the page through textContent, never as HTML.
"use strict";

function token() {
  return window.localStorage.getItem("brink-console-token") || "";
}

async function send(method, url, body) {
  const headers = { "Content-Type": "application/json" };
  if (token()) headers.Authorization = "Bearer " + token();
  let response = await fetch(url, { method, headers, body: JSON.stringify(body || {}) });
  if (response.status === 401) {
    const given = window.prompt("This console needs its access token (BRINK_CONSOLE_TOKEN):");
    if (!given) return response;
    window.localStorage.setItem("brink-console-token", given);
    headers.Authorization = "Bearer " + given;
    response = await fetch(url, { method, headers, body: JSON.stringify(body || {}) });
  }
  return response;
}

function say(text) {
  const el = document.getElementById("action-result");
  if (el) el.textContent = text;
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function when(iso) {
  return iso ? iso.slice(0, 10) + " " + iso.slice(11, 16) + "Z" : "";
}

function alertItem(a) {
  const li = el("li", "alert sev-" + a.severity + " new");
  li.dataset.seq = a.seq;
  li.dataset.id = a.id;
  li.appendChild(el("span", "sev", a.severity));
  const link = el("a", "title", a.title);
  link.href = "/alerts/" + encodeURIComponent(a.id);
  li.appendChild(link);
  const stories = a.count === 1 ? "story" : "stories";
  li.appendChild(el("span", "meta",
    when(a.last_seen) + " · " + a.rule + " · " + a.count + " " + stories + " · score " + a.score.toFixed(1)));
  li.appendChild(el("span", "summary", a.summary));
  return li;
}

function live() {
  const list = document.getElementById("alerts");
  if (!list || !window.EventSource) return;
  const status = document.getElementById("live-status");
  // Resume after the newest alert the page was rendered with: nothing is missed in between.
  const url = list.dataset.stream + (list.dataset.stream.includes("?") ? "&" : "?") +
    "last_event_id=" + encodeURIComponent(list.dataset.last || "0");
  const source = new EventSource(url);
  source.addEventListener("open", () => { if (status) status.textContent = "Live: connected."; });
  source.addEventListener("error", () => { if (status) status.textContent = "Live: reconnecting…"; });
  source.addEventListener("alert", (event) => {
    const a = JSON.parse(event.data);
    if (list.querySelector('[data-id="' + CSS.escape(a.id) + '"]')) return;
    const empty = list.querySelector(".empty");
    if (empty) empty.remove();
    list.insertBefore(alertItem(a), list.firstChild);
  });
}

function actions() {
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const action = button.dataset.action;
    let response;
    if (action === "silence") {
      response = await send("POST", "/api/silences",
        { group: button.dataset.group, for: "6h", comment: "silenced from the console" });
      if (response.ok) {
        const s = await response.json();
        say("Silenced: silence " + s.id + " until " + when(s.ends_at));
        button.disabled = true;
        return;
      }
    } else if (action === "ack") {
      response = await send("POST", "/api/alerts/" + encodeURIComponent(button.dataset.alert) + "/ack", {});
      if (response.ok) { say("Acknowledged."); button.disabled = true; return; }
    } else if (action === "false-alarm") {
      const comment = window.prompt("Why is it a false alarm? (optional)") || "";
      response = await send("POST", "/api/alerts/" + encodeURIComponent(button.dataset.alert) + "/feedback",
        { false_alarm: true, comment });
      if (response.ok) { say("Marked as a false alarm."); button.disabled = true; return; }
    } else if (action === "expire") {
      response = await send("DELETE", "/api/silences/" + encodeURIComponent(button.dataset.silence));
      if (response.ok) { say("Expired."); button.closest("tr").className = "expired"; button.remove(); return; }
    }
    if (response) {
      const body = await response.json().catch(() => ({}));
      say("Failed: " + (body.error || response.status));
    }
  });
  const form = document.getElementById("silence-form");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = Object.fromEntries(new FormData(form).entries());
      const response = await send("POST", "/api/silences", body);
      const data = await response.json().catch(() => ({}));
      say(response.ok ? "Silenced: " + data.id : "Failed: " + (data.error || response.status));
      if (response.ok) window.setTimeout(() => window.location.reload(), 1500);
    });
  }
}

document.addEventListener("DOMContentLoaded", () => { live(); actions(); });
