"""A one-page browser client for the WebSocket adapter, served at ``/``."""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import HTMLResponse

PAGE: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Mainflux WebSocket client</title>
<style>
 body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; max-width: 50em; }
 label { display: block; margin: .4em 0; }
 input { width: 100%; box-sizing: border-box; font-family: monospace; }
 #log { border: 1px solid #ccc; height: 20em; overflow-y: auto; padding: .5em;
        font-family: monospace; white-space: pre-wrap; }
 .in { color: #05603a; } .out { color: #1849a9; } .sys { color: #777; }
</style>
</head>
<body>
<h1>Mainflux WebSocket client</h1>
<label>Channel id <input id="channel"></label>
<label>Thing key <input id="key" type="password"></label>
<label>Subtopic (optional, e.g. <code>room/1</code> or <code>&gt;</code>)
 <input id="subtopic"></label>
<button id="connect">Connect</button> <button id="disconnect" disabled>Disconnect</button>
<h2>Messages</h2>
<div id="log"></div>
<label>Message <input id="message"
 value='[{"bn":"browser:","n":"temperature","u":"Cel","v":21.5}]'></label>
<button id="send" disabled>Send</button>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let socket = null;
function show(text, kind) {
  const line = document.createElement("div");
  line.className = kind;
  line.textContent = new Date().toISOString() + "  " + text;
  $("log").appendChild(line);
  $("log").scrollTop = $("log").scrollHeight;
}
function url() {
  const base = location.pathname.replace(/\\/[^/]*$/, "");
  const sub = $("subtopic").value.trim().replace(/^\\/+/, "");
  const path = base + "/channels/" + encodeURIComponent($("channel").value.trim()) +
    "/messages" + (sub ? "/" + sub.split("/").map(encodeURIComponent).join("/") : "");
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  return scheme + location.host + path + "?authorization=" +
    encodeURIComponent($("key").value.trim());
}
function connected(on) {
  $("connect").disabled = on; $("disconnect").disabled = !on; $("send").disabled = !on;
}
$("connect").onclick = () => {
  socket = new WebSocket(url());
  socket.binaryType = "arraybuffer";
  socket.onopen = () => { connected(true); show("connected", "sys"); };
  socket.onmessage = (e) => show(typeof e.data === "string" ? e.data :
    "(" + e.data.byteLength + " binary bytes)", "in");
  socket.onclose = (e) => { connected(false);
    show("closed " + e.code + (e.reason ? " " + e.reason : ""), "sys"); };
  socket.onerror = () => show("connection refused or failed", "sys");
};
$("disconnect").onclick = () => socket && socket.close();
$("send").onclick = () => { socket.send($("message").value); show($("message").value, "out"); };
</script>
</body>
</html>
"""


async def client_page(request: Request) -> HTMLResponse:
    """The browser client."""
    return HTMLResponse(PAGE)
