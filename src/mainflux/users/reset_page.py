"""The page password-reset links point at by default: ``GET /password/reset``.

A static form. Its script takes the recovery token from the link, removes it from the
address bar and sends ``PUT /password/reset`` to the same path, so the page works
behind the all-in-one gateway and on the users service alike. Headers keep the token
out of caches and referrers, and a content security policy allows only the page's own
script and style."""

from __future__ import annotations

import base64
import hashlib
from typing import Final

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

_STYLE: Final = (
    "body{font-family:system-ui,sans-serif;max-width:24rem;margin:3rem auto;padding:0 1rem}"
    "label,input,button{display:block;width:100%;margin:.4rem 0}"
    "input,button{padding:.5rem;box-sizing:border-box}#note{min-height:1.5rem}"
)

_SCRIPT: Final = """
"use strict";
const token = new URLSearchParams(location.search).get("token") || "";
history.replaceState(null, "", location.pathname);
const form = document.getElementById("reset");
const note = document.getElementById("note");
if (!token) {
  note.textContent = "This link carries no reset token: ask for a new one.";
  form.hidden = true;
}
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const password = document.getElementById("password").value;
  const confirm = document.getElementById("confirm").value;
  if (password !== confirm) {
    note.textContent = "The two passwords differ.";
    return;
  }
  const response = await fetch(location.pathname, {
    method: "PUT",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({token: token, password: password, confirm_password: confirm}),
  });
  if (response.ok) {
    note.textContent = "Your new password is set. Log in with it.";
    form.hidden = true;
    return;
  }
  const body = await response.json().catch(() => ({}));
  note.textContent = response.status === 403
    ? "This link has expired or was already used: ask for a new one."
    : (body.error || "The password was not set.");
});
"""

PAGE: Final = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Reset your password</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>Reset your password</h1>
<form id="reset">
<label for="password">New password (8 characters or more)</label>
<input id="password" type="password" autocomplete="new-password" minlength="8" required>
<label for="confirm">The same again</label>
<input id="confirm" type="password" autocomplete="new-password" minlength="8" required>
<button type="submit">Set the password</button>
</form>
<p id="note" role="status"></p>
<script>{_SCRIPT}</script>
</body>
</html>
"""


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


HEADERS: Final = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        f"default-src 'none'; script-src '{_sha256(_SCRIPT)}'; style-src '{_sha256(_STYLE)}'; "
        "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


async def reset_page(request: Request) -> Response:
    """The reset form (the token stays in the query string for the page's script)."""
    return HTMLResponse(PAGE, headers=HEADERS)
