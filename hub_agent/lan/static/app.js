// hub-agent web page: sign in with a token, control devices, follow live events, list rules.
// Plain browser JavaScript, no build step. Everything from the hub is inserted with textContent
// (never innerHTML), because device names come from radios and rules from users.
"use strict";

const API = "/api/v1";
const TOKEN_KEY = "hub-agent-token";
const MAX_EVENTS = 50;

const state = { token: null, devices: new Map(), rules: new Map(), ws: null, retry: 0, timer: null };

const $ = (selector) => document.querySelector(selector);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

async function api(method, path, body) {
  const init = { method, headers: { Authorization: `Bearer ${state.token}` } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(API + path, init);
  const data = await response.json().catch(() => ({}));
  if (response.status === 401) {
    signOut("That token is not valid (any more).");
    throw new Error(data.message || "unauthorized");
  }
  if (!response.ok) throw new Error(data.message || `${method} ${path}: HTTP ${response.status}`);
  return data;
}

// --- sign in / out ---------------------------------------------------------------------------

async function signIn(token) {
  state.token = token;
  try {
    await loadDevices();
  } catch (error) {
    state.token = null;
    $("#signin-error").textContent = error.message;
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $("#signin-error").textContent = "";
  $("#signin-view").hidden = true;
  $("#app-view").hidden = false;
  $("#signout").hidden = false;
  loadRules();
  loadUpdate();
  connectEvents();
}

function signOut(message = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  if (state.ws) { state.ws.onclose = null; state.ws.close(1000); state.ws = null; }
  clearTimeout(state.timer);
  setLive(false);
  $("#app-view").hidden = true;
  $("#signout").hidden = true;
  $("#signin-view").hidden = false;
  $("#signin-error").textContent = message;
}

async function pair() {
  const response = await fetch(`${API}/pair`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: `web page (${navigator.platform || "browser"})`, code: $("#code").value.trim() }),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) { $("#signin-error").textContent = data.message || `HTTP ${response.status}`; return; }
  $("#token").value = data.token;
  await signIn(data.token);
}

// --- devices ---------------------------------------------------------------------------------

async function loadDevices() {
  const devices = await api("GET", "/devices");
  state.devices = new Map(devices.map((d) => [d.id, d]));
  renderDevices();
}

function renderDevices() {
  const list = $("#devices");
  list.replaceChildren(...[...state.devices.values()].map(deviceCard));
  if (state.devices.size === 0) list.append(el("p", { class: "muted" }, "No devices yet. Open inclusion to add some."));
}

function deviceCard(device) {
  const card = el("article", { class: "device" + (device.online ? "" : " offline"), "data-device": device.id });
  card.append(el("h3", {}, device.name || device.id));
  card.append(el("div", { class: "muted" }, `${device.id} · ${device.manufacturer} ${device.model}`.trim()));
  const attributes = el("dl");
  for (const [attribute, value] of Object.entries(device.state)) {
    attributes.append(el("dt", {}, attribute), el("dd", { "data-attr": attribute }, String(value)));
  }
  card.append(attributes);
  card.append(controls(device));
  return card;
}

function controls(device) {
  const box = el("div", { class: "controls" });
  const caps = new Set(device.capabilities);
  const button = (label, command, args) =>
    el("button", { "data-command": command, onclick: () => send(device.id, command, args, box) }, label);
  if (caps.has("switch")) box.append(button("On", "on"), button("Off", "off"));
  if (caps.has("lock")) box.append(button("Lock", "lock"), button("Unlock", "unlock"));
  if (caps.has("level")) {
    const slider = el("input", {
      type: "range", min: "0", max: "100", value: String(device.state.level ?? 0),
      "aria-label": "level", "data-command": "set_level",
    });
    slider.addEventListener("change", () => send(device.id, "set_level", { level: Number(slider.value) }, box));
    box.append(slider);
  }
  return box;
}

async function send(id, command, args, box) {
  box.classList.add("busy");
  $("#app-error").textContent = "";
  try {
    await api("POST", `/devices/${encodeURIComponent(id)}/commands`, args ? { command, args } : { command });
  } catch (error) {
    $("#app-error").textContent = `${id}: ${error.message}`;
  } finally {
    box.classList.remove("busy");
  }
}

// Units as CONTRACT section 4 fixes them, written the way people read them.
const UNITS = {
  level: "%", color_temp: "K", temperature: "°C", humidity: "%", illuminance: "lx",
  battery: "%", power: "W", energy: "kWh", heating_setpoint: "°C",
};

function withUnit(attribute, value) {
  const unit = UNITS[attribute];
  return unit && typeof value === "number" ? `${value} ${unit}` : String(value);
}

function deviceLabel(id) {
  const device = state.devices.get(id);
  return device && device.name ? device.name : id;
}

function applyState(event) {
  const device = state.devices.get(event.device);
  if (!device) return;
  device.state[event.attribute] = event.value;
  device.online = true;
  const card = document.querySelector(`[data-device="${CSS.escape(event.device)}"]`);
  const cell = card && card.querySelector(`[data-attr="${CSS.escape(event.attribute)}"]`);
  if (cell) {
    cell.textContent = String(event.value);
    if (event.attribute === "level") card.querySelector('input[data-command="set_level"]').value = event.value;
  } else if (card) {
    card.replaceWith(deviceCard(device));
  }
}

async function include(protocol) {
  const note = $("#inclusion-note");
  try {
    const answer = await api("POST", "/inclusion", { protocol, seconds: 60 });
    note.textContent = `${answer.protocol}: pairing devices for ${answer.seconds} s; they appear here as they join.`;
  } catch (error) {
    note.textContent = error.message;
  }
}

// --- rules -----------------------------------------------------------------------------------

async function loadRules() {
  try {
    const rules = await api("GET", "/rules");
    state.rules = new Map(rules.map((r) => [r.id, r]));
    $("#rules-note").textContent = rules.length ? "" : "No rules yet.";
  } catch (error) {
    state.rules = new Map();
    $("#rules-note").textContent = error.message;
  }
  renderRules();
}

function when(ts) {
  if (ts === null || ts === undefined) return "never";
  const date = typeof ts === "number" ? new Date(ts * 1000) : new Date(ts);
  return date.toLocaleString();
}

function renderRules() {
  const body = $("#rules tbody");
  body.replaceChildren(...[...state.rules.values()].map((rule) => el("tr", { "data-rule": rule.id },
    el("td", {}, rule.id),
    el("td", {}, rule.enabled === false ? "no" : "yes"),
    el("td", { "data-field": "last_fired" }, when(rule.last_fired)),
    el("td", {}, rule.last_error || ""),
  )));
}

// --- live events -----------------------------------------------------------------------------

function setLive(on) {
  const badge = $("#live");
  badge.textContent = on ? "live" : "offline";
  badge.className = "badge " + (on ? "on" : "off");
}

function connectEvents() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  // Browsers cannot send an Authorization header on a WebSocket: the token rides as a subprotocol.
  const ws = new WebSocket(`${scheme}://${location.host}${API}/events`, ["hub-agent", `hub-agent.bearer.${state.token}`]);
  state.ws = ws;
  ws.onopen = () => {
    state.retry = 0;
    setLive(true);
    if (state.resync) { state.resync = false; loadDevices().catch(() => {}); loadRules(); }
  };
  ws.onmessage = (message) => onEvent(JSON.parse(message.data));
  ws.onclose = (close) => {
    setLive(false);
    state.ws = null;
    if (!state.token) return;
    if (close.code === 1008) { signOut("This token was revoked."); return; }
    // We may have missed events (1013: we were too slow): re-read everything after reconnecting.
    state.resync = true;
    const delay = Math.min(30000, 500 * 2 ** state.retry++) * Math.random();
    state.timer = setTimeout(connectEvents, delay);
  };
}

// --- software update (GET/POST /api/v1/update; live through "update" events) -----------------------

async function loadUpdate() {
  // /health carries update_trust only when the hub has [ota]; without it the section stays hidden.
  const health = await fetch(`${API}/health`).then((r) => r.json()).catch(() => ({}));
  if (!("update_trust" in health)) return;
  $("#software").hidden = false;
  try {
    renderUpdate(await api("GET", "/update"));
  } catch (error) {
    $("#update").textContent = error.message;  // e.g. "over-the-air updates are not configured ..."
  }
}

function renderUpdate(status) {
  const current = status.current || {};
  const available = status.available;
  const busy = !["idle", "failed"].includes(status.state);
  let text = `Running ${current.version} (slot ${current.slot || "?"}). `;
  text += available ? `Update ${available.version} available (${Math.round(available.length / 1e6 * 10) / 10} MB). ` : "No update available. ";
  if (busy) text += `${status.state.replace("_", " ")} ${status.progress}%`;
  if (status.update_trust === "owner") text += " Updates come from the owner's repository.";
  $("#update").textContent = text;
  $("#update-error").textContent = status.last_error || "";
  $("#update-actions").hidden = false;
  $("#update-check").disabled = busy;
  $("#update-install").hidden = !available;
  $("#update-install").disabled = busy;
  $("#update-install").textContent = available ? `Install ${available.version}` : "Install";
}

async function updateAction(path, body) {
  try {
    renderUpdate(await api("POST", path, body));
  } catch (error) {
    $("#update-error").textContent = error.message;
  }
}

function onEvent(event) {
  if (event.type === "update") { if (!$("#software").hidden) renderUpdate(event); return; }
  if (event.type === "state") applyState(event);
  else if (event.type === "device_added") { state.devices.set(event.device.id, event.device); renderDevices(); }
  else if (event.type === "device_removed") { state.devices.delete(event.device); renderDevices(); }
  else if (event.type === "device_online") {
    const device = state.devices.get(event.device);
    if (device) { device.online = event.online; renderDevices(); }
  } else if (event.type === "rule_fired") {
    const rule = state.rules.get(event.rule);
    if (rule) { rule.last_fired = event.ts; renderRules(); }
  }
  const log = $("#events");
  const summary = event.type === "state" ? `${deviceLabel(event.device)}: ${event.attribute} = ${withUnit(event.attribute, event.value)}` :
    event.type === "rule_fired" ? `rule ${event.rule} fired` :
    `${event.type.replace("_", " ")} ${deviceLabel(typeof event.device === "string" ? event.device : (event.device && event.device.id) || "")}`;
  log.prepend(el("li", {}, `${new Date().toLocaleTimeString()} ${summary}`));
  while (log.children.length > MAX_EVENTS) log.lastChild.remove();
}

// --- start -----------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("#signin-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("#token").value.trim()); });
  $("#pair").addEventListener("click", () => pair());
  $("#signout").addEventListener("click", () => signOut());
  $("#update-check").addEventListener("click", () => updateAction("/update/check"));
  $("#update-install").addEventListener("click", () => updateAction("/update/install", {}));
  for (const button of document.querySelectorAll("[data-include]")) {
    button.addEventListener("click", () => include(button.dataset.include));
  }
  fetch(`${API}/health`).then((r) => r.json()).then((h) => { $("#hub").textContent = `${h.hub_id} · v${h.version}`; })
    .catch(() => {});
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) signIn(saved);
});
