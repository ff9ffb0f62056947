// Tributary's web console: one page, routed by the URL's hash, over the JSON API under /console/api/.
// Every value from the broker is put in the page as text (textContent), never as HTML.
"use strict";

const api = "/console/api";
let session = { secured: false, principal: null, csrfToken: null };
let pollTimer = null;

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function svg(tag, attrs) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  return el;
}

async function call(method, path, body) {
  const init = { method, headers: {} };
  if (method !== "GET") init.headers["X-Console-Csrf"] = session.csrfToken || "";
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(api + path, init);
  const data = await response.json().catch(() => ({ error: "HTTP " + response.status }));
  if (response.status === 401 && path !== "/login") {
    session.principal = null;
    showLogin();
    throw new Error(data.error || "log in first");
  }
  if (!response.ok) throw new Error(data.error || "HTTP " + response.status);
  return data;
}

const fmtBytes = n => n < 1024 ? n + " B" : n < 1048576 ? (n / 1024).toFixed(1) + " KiB" : n < 1073741824 ? (n / 1048576).toFixed(1) + " MiB" : (n / 1073741824).toFixed(2) + " GiB";
const fmtTime = ms => ms < 0 ? "-" : new Date(ms).toISOString();
const enc = encodeURIComponent;

function main(...children) {
  const m = document.getElementById("main");
  m.replaceChildren(...children);
  return m;
}

function notice(el, kind, text) {
  el.replaceChildren(h("div", { class: "message " + kind, role: kind === "error" ? "alert" : "status" }, text));
}

function table(headers, rows, id) {
  return h("table", { id },
    h("thead", {}, h("tr", {}, headers.map(x => h("th", { class: x.endsWith("#") ? "num" : null }, x.replace(/#$/, ""))))),
    h("tbody", {}, rows));
}

function parsePairs(text) {
  const result = {};
  for (const line of text.split("\n").map(l => l.trim()).filter(l => l)) {
    const i = line.indexOf("=");
    if (i <= 0) throw new Error("write one key=value per line: " + line);
    result[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return result;
}

function route() {
  clearInterval(pollTimer);
  pollTimer = null;
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(x => x).map(decodeURIComponent);
  for (const a of document.querySelectorAll("header nav a")) a.classList.remove("active");
  const nav = { topics: "nav-topics", groups: "nav-groups" }[parts[0]] || "nav-overview";
  document.getElementById(nav).classList.add("active");
  if (session.secured && !session.principal) return showLogin();
  const page = parts.length === 0 ? overviewPage()
    : parts[0] === "topics" && parts.length === 1 ? topicsPage()
    : parts[0] === "topics" && parts.length === 2 ? topicPage(parts[1])
    : parts[0] === "topics" && parts[2] === "messages" ? messagesPage(parts[1], params)
    : parts[0] === "topics" && parts[2] === "search" ? searchPage(parts[1])
    : parts[0] === "topics" && parts[2] === "produce" ? producePage(parts[1])
    : parts[0] === "groups" && parts.length === 1 ? groupsPage()
    : parts[0] === "groups" && parts.length === 2 ? groupPage(parts[1])
    : Promise.resolve(main(h("h1", {}, "Not found")));
  page.catch(e => main(h("div", { class: "message error", role: "alert" }, e.message)));
}

// ---- login ----

function showWho() {
  const who = document.getElementById("whoami");
  who.replaceChildren();
  if (session.secured && session.principal) {
    who.append(h("span", { id: "principal" }, session.principal), h("button", { class: "secondary", id: "logout", onclick: logout }, "Log out"));
  }
}

function showLogin() {
  showWho();
  const status = h("div", {});
  main(h("div", { class: "login" }, h("h1", {}, "Log in"),
    h("p", { class: "muted" }, "Use the same user name and password as for the broker's SASL listener."),
    h("form", { id: "login-form", onsubmit: async e => {
      e.preventDefault();
      const f = e.target;
      try {
        session = await call("POST", "/login", { username: f.username.value, password: f.password.value });
        showWho();
        route();
      } catch (err) { notice(status, "error", err.message); }
    } },
    h("label", {}, "User name", h("input", { name: "username", id: "login-username", autocomplete: "username", required: true })),
    h("label", {}, "Password", h("input", { name: "password", id: "login-password", type: "password", autocomplete: "current-password", required: true })),
    h("button", { type: "submit", id: "login-submit" }, "Log in")), status));
}

async function logout() {
  await call("POST", "/logout", {});
  session = await call("GET", "/session");
  showLogin();
}

// ---- overview ----

async function overviewPage() {
  const o = await call("GET", "/overview");
  const card = (label, value, id) => h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: "value", id }, value));
  main(h("h1", {}, "Overview"),
    h("p", { class: "muted" }, "Cluster ", h("code", {}, o.clusterId)),
    h("div", { class: "cards" },
      card("Brokers", o.brokers.length, "ov-brokers"),
      card("Topics", o.topicCount, "ov-topics"),
      card("Partitions", o.partitionCount, "ov-partitions"),
      card("Offline partitions", o.offlinePartitionCount, "ov-offline"),
      card("Disk use", fmtBytes(o.diskBytes), "ov-disk"),
      card("Messages", o.recordCount, "ov-records"),
      card("Consumer groups", o.groupCount, "ov-groups"),
      card("Records in / s", o.recordsInPerSecond.toFixed(1), "ov-records-rate"),
      card("Bytes in / s", fmtBytes(Math.round(o.bytesInPerSecond)), "ov-bytes-rate"),
      card("Bytes out / s", fmtBytes(Math.round(o.bytesOutPerSecond)), "ov-bytes-out-rate")),
    h("p", { class: "muted" }, o.throughputWindowMs > 0 ? `Throughput over the last ${(o.throughputWindowMs / 1000).toFixed(0)} s.` : "Throughput shows after two samples (5 s apart)."),
    h("h2", {}, "Brokers"),
    table(["Node", "Host", "Port#", "Listeners"], o.brokers.map(b => h("tr", {}, h("td", {}, b.nodeId), h("td", {}, b.host), h("td", { class: "num" }, b.port), h("td", {}, b.listeners.join(", ")))), "brokers"));
}

// ---- topics ----

async function topicsPage() {
  const topics = await call("GET", "/topics");
  const status = h("div", { id: "status" });
  main(h("h1", {}, "Topics"),
    h("form", { class: "inline", id: "create-topic", onsubmit: async e => {
      e.preventDefault();
      const f = e.target;
      try {
        const body = { name: f.name.value.trim(), configs: parsePairs(f.configs.value) };
        if (f.partitions.value) body.partitions = Number(f.partitions.value);
        const r = await call("POST", "/topics", body);
        await topicsPage();
        notice(document.getElementById("status"), "ok", r.message);
      } catch (err) { notice(status, "error", err.message); }
    } },
    h("label", {}, "Name", h("input", { name: "name", id: "create-name", required: true })),
    h("label", {}, "Partitions", h("input", { name: "partitions", id: "create-partitions", type: "number", min: 1, placeholder: "broker default" })),
    h("label", {}, "Configs (key=value per line)", h("textarea", { name: "configs", id: "create-configs", rows: 2 })),
    h("button", { type: "submit", id: "create-submit" }, "Create topic")),
    status,
    table(["Topic", "Partitions#", "Messages#", "Size#"], topics.map(t => h("tr", { "data-topic": t.name },
      h("td", {}, h("a", { href: "#/topics/" + enc(t.name) }, t.name), t.internal ? h("span", { class: "muted" }, " internal") : null),
      h("td", { class: "num" }, t.partitions), h("td", { class: "num" }, t.records), h("td", { class: "num" }, fmtBytes(t.sizeBytes)))), "topics"));
}

async function topicPage(name) {
  const t = await call("GET", "/topics/" + enc(name));
  const status = h("div", { id: "status" });
  const del = h("div", { class: "toolbar" }, h("button", { class: "danger", id: "delete-topic", onclick: () => {
    del.replaceChildren(h("span", {}, `Delete ${name} and all its messages?`),
      h("button", { class: "danger", id: "delete-confirm", onclick: async () => {
        try { await call("DELETE", "/topics/" + enc(name)); location.hash = "#/topics"; } catch (err) { notice(status, "error", err.message); }
      } }, "Yes, delete"),
      h("button", { class: "secondary", onclick: () => topicPage(name) }, "Cancel"));
  } }, "Delete topic"));
  main(h("h1", {}, "Topic ", h("span", { id: "topic-name" }, t.name)),
    h("p", { class: "muted" }, "Id ", t.id),
    h("div", { class: "toolbar" },
      h("a", { href: `#/topics/${enc(name)}/messages`, id: "link-browse" }, "Browse messages"), " · ",
      h("a", { href: `#/topics/${enc(name)}/search`, id: "link-search" }, "Search"), " · ",
      h("a", { href: `#/topics/${enc(name)}/produce`, id: "link-produce" }, "Produce")),
    status,
    h("h2", {}, "Partitions"),
    table(["Partition#", "Start offset#", "End offset#", "Size#", "Leader#"], t.partitions.map(p => h("tr", { "data-partition": p.partition },
      h("td", { class: "num" }, p.partition), h("td", { class: "num" }, p.offline ? "offline" : p.startOffset), h("td", { class: "num" }, p.offline ? "offline" : p.endOffset),
      h("td", { class: "num" }, fmtBytes(p.sizeBytes)), h("td", { class: "num" }, p.leader))), "partitions"),
    h("h2", {}, "Configs"),
    h("form", { class: "inline", id: "alter-config", onsubmit: async e => {
      e.preventDefault();
      const f = e.target;
      try {
        const r = await call("POST", `/topics/${enc(name)}/configs`, { set: { [f.key.value.trim()]: f.value.value } });
        await topicPage(name);
        notice(document.getElementById("status"), "ok", r.message);
      } catch (err) { notice(status, "error", err.message); }
    } },
    h("label", {}, "Key", h("input", { name: "key", id: "config-key", required: true })),
    h("label", {}, "Value", h("input", { name: "value", id: "config-value" })),
    h("button", { type: "submit", id: "config-submit" }, "Set")),
    table(["Name", "Value", "Source", ""], t.configs.map(c => h("tr", { "data-config": c.name },
      h("td", {}, c.name), h("td", {}, c.sensitive ? "(sensitive)" : c.value ?? ""), h("td", {}, c.source),
      h("td", {}, c.source === "DYNAMIC_TOPIC_CONFIG" ? h("button", { class: "secondary", onclick: async () => {
        try { await call("POST", `/topics/${enc(name)}/configs`, { delete: [c.name] }); await topicPage(name); } catch (err) { notice(status, "error", err.message); }
      } }, "Reset to default") : null))), "configs"),
    h("h2", {}, "Danger zone"), del);
}

function payloadCell(p, view) {
  if (!p) return h("td", { class: "muted" }, "null");
  const shown = view === "hex" ? p.hex + (p.size > p.hex.length / 2 ? " …" : "")
    : view === "json" ? (p.json ?? p.text ?? "(not UTF-8; hex) " + p.hex)
    : view === "text" ? (p.text ?? "(not UTF-8; hex) " + p.hex)
    : (p.json ?? p.text ?? "(binary) " + p.hex);
  return h("td", {}, h("pre", {}, shown), p.truncated ? h("span", { class: "muted" }, `first ${shown.length} of ${p.size} bytes`) : null);
}

function messageRows(messages, view, withPartition) {
  return messages.map(m => h("tr", { "data-offset": m.offset, "data-partition": m.partition },
    withPartition ? h("td", { class: "num" }, m.partition) : null,
    h("td", { class: "num" }, m.offset), h("td", {}, fmtTime(m.timestampMs), h("div", { class: "muted" }, m.timestampType)),
    payloadCell(m.key, view === "hex" ? "hex" : "text"),
    h("td", { class: "headers" }, m.headers.map(x => h("span", { class: "header-chip" }, `${x.key}=${x.value ?? "null"}`))),
    payloadCell(m.value, view)));
}

async function messagesPage(name, params) {
  const t = await call("GET", "/topics/" + enc(name));
  const partition = params.get("partition") || "0";
  const q = new URLSearchParams({ partition, limit: params.get("limit") || "50", order: params.get("order") || "newest" });
  if (params.get("offset")) q.set("offset", params.get("offset"));
  if (params.get("time")) {
    const ms = Date.parse(params.get("time"));
    if (!isNaN(ms)) q.set("timestamp", String(ms));
  }
  const view = params.get("view") || "auto";
  const status = h("div", { id: "status" });
  let result = null;
  try { result = await call("GET", `/topics/${enc(name)}/messages?${q}`); } catch (err) { notice(status, "error", err.message); }
  main(h("h1", {}, "Messages in ", h("a", { href: "#/topics/" + enc(name) }, name)),
    h("form", { class: "inline", id: "browse-form", onsubmit: e => {
      e.preventDefault();
      const f = e.target;
      const next = new URLSearchParams();
      for (const k of ["partition", "offset", "time", "limit", "order", "view"]) if (f[k].value) next.set(k, f[k].value);
      location.hash = `#/topics/${enc(name)}/messages?${next}`;
    } },
    h("label", {}, "Partition", h("select", { name: "partition", id: "browse-partition" },
      t.partitions.map(p => h("option", { value: p.partition, selected: String(p.partition) === partition }, p.partition)))),
    h("label", {}, "From offset", h("input", { name: "offset", id: "browse-offset", value: params.get("offset") || "", placeholder: "newest" })),
    h("label", {}, "Or time (ISO 8601)", h("input", { name: "time", id: "browse-time", value: params.get("time") || "", placeholder: "2026-01-31T12:00:00Z" })),
    h("label", {}, "Limit", h("input", { name: "limit", id: "browse-limit", type: "number", min: 1, value: params.get("limit") || "50" })),
    h("label", {}, "Order", h("select", { name: "order", id: "browse-order" },
      h("option", { value: "newest", selected: q.get("order") === "newest" }, "newest first"), h("option", { value: "oldest", selected: q.get("order") === "oldest" }, "oldest first"))),
    h("label", {}, "Show values as", h("select", { name: "view", id: "browse-view" },
      ["auto", "text", "json", "hex"].map(v => h("option", { value: v, selected: v === view }, v)))),
    h("button", { type: "submit", id: "browse-submit" }, "Show")),
    status,
    result ? h("p", { class: "muted", id: "browse-range" }, `Partition ${result.partition}: offsets ${result.startOffset} to ${result.endOffset}, ${result.messages.length} shown.`) : null,
    result ? table(["Offset#", "Timestamp", "Key", "Headers", "Value"], messageRows(result.messages, view, false), "messages") : null);
}

async function searchPage(name) {
  const status = h("div", { id: "status" });
  const progress = h("div", { id: "search-progress" });
  const results = h("div", { id: "search-results" });
  let searchId = null;
  const cancel = h("button", { type: "button", class: "danger", id: "search-cancel", disabled: true, onclick: async () => {
    if (searchId) await call("POST", `/searches/${searchId}/cancel`, {}).catch(err => notice(status, "error", err.message));
  } }, "Cancel");
  const show = s => {
    const pct = s.bytesToScan > 0 ? Math.min(100, (100 * s.bytesScanned) / Math.min(s.bytesToScan, s.bytesMax)) : 100;
    progress.replaceChildren(h("progress", { max: 100, value: pct.toFixed(0) }),
      h("span", { id: "search-state", "data-state": s.state }, ` ${s.state}: `),
      h("span", { id: "search-counts" }, `${s.matches.length} matches, ${s.recordsScanned} records and ${fmtBytes(s.bytesScanned)} of ${fmtBytes(s.bytesToScan)} scanned`),
      s.stopReason ? h("div", { class: "muted", id: "search-reason" }, s.stopReason) : null);
    results.replaceChildren(table(["Partition#", "Offset#", "Timestamp", "Key", "Headers", "Value"], messageRows(s.matches, "auto", true), "matches"));
  };
  const poll = async () => {
    try {
      const s = await call("GET", `/searches/${searchId}`);
      show(s);
      if (s.state !== "running") { clearInterval(pollTimer); pollTimer = null; cancel.disabled = true; }
    } catch (err) { clearInterval(pollTimer); pollTimer = null; notice(status, "error", err.message); }
  };
  main(h("h1", {}, "Search ", h("a", { href: "#/topics/" + enc(name) }, name)),
    h("form", { class: "inline", id: "search-form", onsubmit: async e => {
      e.preventDefault();
      const f = e.target;
      const body = { field: f.field.value, query: f.query.value };
      if (f.field.value === "header") body.headerKey = f.headerKey.value;
      if (f.field.value === "json") body.jsonPath = f.jsonPath.value;
      if (f.bytesMax.value) body.bytesMax = Number(f.bytesMax.value) * 1048576;
      if (f.timeMsMax.value) body.timeMsMax = Number(f.timeMsMax.value) * 1000;
      status.replaceChildren();
      try {
        searchId = (await call("POST", `/topics/${enc(name)}/search`, body)).id;
        cancel.disabled = false;
        clearInterval(pollTimer);
        pollTimer = setInterval(poll, 300);
        await poll();
      } catch (err) { notice(status, "error", err.message); }
    } },
    h("label", {}, "Field", h("select", { name: "field", id: "search-field" },
      h("option", { value: "value" }, "value text"), h("option", { value: "key" }, "key"), h("option", { value: "header" }, "header"), h("option", { value: "json" }, "JSON field"))),
    h("label", {}, "Header key", h("input", { name: "headerKey", id: "search-header-key", placeholder: "for header" })),
    h("label", {}, "JSON path", h("input", { name: "jsonPath", id: "search-json-path", placeholder: "$.customer.id" })),
    h("label", {}, "Query", h("input", { name: "query", id: "search-query" })),
    h("label", {}, "Scan at most (MiB)", h("input", { name: "bytesMax", id: "search-bytes-max", type: "number", min: 1, placeholder: "256" })),
    h("label", {}, "Run at most (s)", h("input", { name: "timeMsMax", id: "search-time-max", type: "number", min: 1, placeholder: "30" })),
    h("button", { type: "submit", id: "search-submit" }, "Search"), cancel),
    status, progress, results);
}

async function producePage(name) {
  const t = await call("GET", "/topics/" + enc(name));
  const status = h("div", { id: "status" });
  main(h("h1", {}, "Produce to ", h("a", { href: "#/topics/" + enc(name) }, name)),
    h("form", { class: "inline", id: "produce-form", onsubmit: async e => {
      e.preventDefault();
      const f = e.target;
      try {
        const headers = Object.entries(parsePairs(f.headers.value)).map(([key, value]) => ({ key, value }));
        const r = await call("POST", `/topics/${enc(name)}/messages`, {
          partition: Number(f.partition.value), key: f.key.value === "" ? null : f.key.value, value: f.value.value, headers });
        notice(status, "ok", `Produced to partition ${r.partition} at offset ${r.offset}.`);
      } catch (err) { notice(status, "error", err.message); }
    } },
    h("label", {}, "Partition", h("select", { name: "partition", id: "produce-partition" }, t.partitions.map(p => h("option", { value: p.partition }, p.partition)))),
    h("label", {}, "Key (empty: none)", h("input", { name: "key", id: "produce-key" })),
    h("label", {}, "Value", h("textarea", { name: "value", id: "produce-value" })),
    h("label", {}, "Headers (key=value per line)", h("textarea", { name: "headers", id: "produce-headers", rows: 2 })),
    h("button", { type: "submit", id: "produce-submit" }, "Produce")),
    status);
}

// ---- groups ----

async function groupsPage() {
  const groups = await call("GET", "/groups");
  main(h("h1", {}, "Consumer groups"),
    groups.length === 0 ? h("p", { class: "muted" }, "No groups.") : null,
    table(["Group", "Type", "State", "Members#", "Lag#"], groups.map(g => h("tr", { "data-group": g.groupId },
      h("td", {}, h("a", { href: "#/groups/" + enc(g.groupId) }, g.groupId)), h("td", {}, g.type), h("td", {}, g.state),
      h("td", { class: "num" }, g.members), h("td", { class: "num" }, g.lag))), "groups"));
}

function lagChart(samples) {
  const width = 640, height = 180, pad = 36;
  const chart = svg("svg", { class: "chart", id: "lag-chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  const title = svg("title", {});
  title.textContent = "Lag over time";
  chart.append(title, svg("line", { class: "axis", x1: pad, y1: height - pad, x2: width - 8, y2: height - pad }), svg("line", { class: "axis", x1: pad, y1: 8, x2: pad, y2: height - pad }));
  if (samples.length === 0) return chart;
  const t0 = samples[0].timeMs, t1 = Math.max(samples[samples.length - 1].timeMs, t0 + 1);
  const max = Math.max(1, ...samples.map(s => s.lag));
  const x = t => pad + ((t - t0) / (t1 - t0)) * (width - pad - 8);
  const y = v => height - pad - (v / max) * (height - pad - 8);
  const points = samples.map(s => `${x(s.timeMs).toFixed(1)},${y(s.lag).toFixed(1)}`).join(" ");
  chart.append(svg("polyline", { class: "line", points, "data-samples": samples.length }));
  const label = (text, attrs) => { const el = svg("text", attrs); el.textContent = text; chart.append(el); };
  label(String(max), { x: 4, y: 16 });
  label("0", { x: 4, y: height - pad });
  label(new Date(t0).toISOString().slice(11, 19), { x: pad, y: height - 12 });
  label(new Date(t1).toISOString().slice(11, 19), { x: width - 70, y: height - 12 });
  return chart;
}

async function groupPage(groupId) {
  const g = await call("GET", "/groups/" + enc(groupId));
  const status = h("div", { id: "status" });
  const topics = [...new Set(g.offsets.map(o => o.topic))];
  main(h("h1", {}, "Group ", h("span", { id: "group-id" }, g.groupId)),
    h("p", {}, `${g.type} group, state `, h("strong", { id: "group-state" }, g.state), ", total lag ", h("strong", { id: "group-lag" }, g.lag)),
    h("h2", {}, "Lag over time"), lagChart(g.lagSamples),
    h("h2", {}, "Members"),
    g.members.length === 0 ? h("p", { class: "muted", id: "no-members" }, "No members.") :
      table(["Member", "Client", "Host", "Assignment"], g.members.map(m => h("tr", {},
        h("td", {}, m.memberId, m.instanceId ? h("div", { class: "muted" }, m.instanceId) : null), h("td", {}, m.clientId), h("td", {}, m.clientHost),
        h("td", {}, m.assignments.map(a => `${a.topic}: ${a.partitions.join(", ")}`).join("; ")))), "members"),
    h("h2", {}, "Offsets and lag"),
    table(["Topic", "Partition#", "Committed#", "End offset#", "Lag#"], g.offsets.map(o => h("tr", { "data-topic": o.topic, "data-partition": o.partition },
      h("td", {}, o.topic), h("td", { class: "num" }, o.partition), h("td", { class: "num" }, o.committedOffset), h("td", { class: "num" }, o.endOffset), h("td", { class: "num lag" }, o.lag))), "offsets"),
    h("h2", {}, "Reset offsets"),
    h("p", { class: "muted" }, "Only while the group has no members, as kafka-consumer-groups.sh --reset-offsets."),
    h("form", { class: "inline", id: "reset-form", onsubmit: async e => {
      e.preventDefault();
      const f = e.target;
      const body = { topic: f.topic.value, to: f.to.value };
      if (f.to.value === "offset") body.offset = Number(f.position.value);
      if (f.to.value === "timestamp") body.timestampMs = Date.parse(f.position.value);
      try {
        const r = await call("POST", `/groups/${enc(groupId)}/reset`, body);
        await groupPage(groupId);
        notice(document.getElementById("status"), "ok", r.message);
      } catch (err) { notice(status, "error", err.message); }
    } },
    h("label", {}, "Topic", h("input", { name: "topic", id: "reset-topic", list: "group-topics", value: topics[0] || "", required: true })),
    h("datalist", { id: "group-topics" }, topics.map(t => h("option", { value: t }))),
    h("label", {}, "To", h("select", { name: "to", id: "reset-to" }, ["earliest", "latest", "offset", "timestamp"].map(v => h("option", { value: v }, v)))),
    h("label", {}, "Offset or time (ISO 8601)", h("input", { name: "position", id: "reset-position" })),
    h("button", { type: "submit", id: "reset-submit" }, "Reset")),
    status);
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", async () => {
  try { session = await call("GET", "/session"); } catch (err) { main(h("div", { class: "message error" }, err.message)); return; }
  showWho();
  route();
});
