// The console's few live parts: copy and reveal keys, check JSON before sending,
// confirm risky forms, and show a channel's messages as they arrive (WebSocket).
"use strict";

function copyText(text, button) {
  const done = () => { const was = button.textContent; button.textContent = "Copied"; setTimeout(() => { button.textContent = was; }, 1500); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text, done));
  } else {
    fallbackCopy(text, done);
  }
}

function fallbackCopy(text, done) {
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "absolute";
  area.style.left = "-9999px";
  document.body.appendChild(area);
  area.select();
  try { document.execCommand("copy"); done(); } finally { area.remove(); }
}

function checkJson(area) {
  const error = document.getElementById("e-" + area.name);
  let message = "";
  const text = area.value.trim();
  if (text) {
    try {
      const value = JSON.parse(text);
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        message = "must be a JSON object, like {\"room\": \"kitchen\"}";
      }
    } catch (e) {
      message = "not valid JSON: " + e.message;
    }
  }
  if (error) { error.textContent = message; error.hidden = !message; }
  area.setAttribute("aria-invalid", message ? "true" : "false");
  area.closest(".field").classList.toggle("invalid", Boolean(message));
  return !message;
}

function describe(text) {
  try {
    const value = JSON.parse(text);
    const records = Array.isArray(value) ? value : [value];
    let base = "";
    return records.map((r) => {
      if (r && typeof r === "object") {
        if (r.bn) base = r.bn;
        const name = base + (r.n || "");
        for (const k of ["v", "vs", "vb", "vd", "s"]) {
          if (k in r) return (name ? name + " = " : "") + r[k] + (r.u ? " " + r.u : "");
        }
      }
      return JSON.stringify(r);
    }).join("; ");
  } catch (e) {
    return text;
  }
}

function watch(table) {
  const status = document.getElementById("live-status");
  const body = table.tBodies[0];
  let delay = 1000;
  const open = () => {
    const socket = new WebSocket(table.dataset.liveUrl);
    socket.binaryType = "arraybuffer";
    socket.onopen = () => { status.textContent = "Listening: new messages appear below."; delay = 1000; };
    socket.onmessage = (event) => {
      const row = body.insertRow(0);
      row.className = "arrived";
      row.insertCell().textContent = new Date().toLocaleTimeString();
      const text = typeof event.data === "string" ? event.data : "(" + event.data.byteLength + " bytes)";
      const cell = row.insertCell();
      cell.textContent = describe(text);
      cell.title = text;
      while (body.rows.length > 200) body.deleteRow(-1);
    };
    socket.onclose = (event) => {
      if (event.code === 1008) { status.textContent = "Access revoked: reload the page."; return; }
      status.textContent = "Disconnected; reconnecting…";
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 30000);
    };
  };
  open();
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-reveal]").forEach((button) => {
    button.addEventListener("click", () => {
      const input = button.parentElement.querySelector("input");
      const hidden = input.type === "password";
      input.type = hidden ? "text" : "password";
      button.textContent = hidden ? "Hide" : "Show";
    });
  });
  document.querySelectorAll("[data-copy]").forEach((button) => {
    button.addEventListener("click", () => copyText(button.parentElement.querySelector("input").value, button));
  });
  document.querySelectorAll("[data-copy-command]").forEach((button) => {
    button.addEventListener("click", () => copyText(button.parentElement.querySelector("[data-command]").textContent, button));
  });
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => { if (!confirm(form.dataset.confirm)) event.preventDefault(); });
  });
  document.querySelectorAll("textarea[data-json]").forEach((area) => {
    area.addEventListener("input", () => checkJson(area));
    area.form.addEventListener("submit", (event) => { if (!checkJson(area)) { event.preventDefault(); area.focus(); } });
  });
  const live = document.querySelector("table[data-live-url]");
  if (live) watch(live);
});
