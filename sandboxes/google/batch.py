"""Google's batch endpoint: ``POST /batch/calendar/v3`` with a ``multipart/mixed`` body.

Each part is an ``application/http`` request (``GET /calendar/v3/... HTTP/1.1``, headers, body);
the sandbox replays every part, in order, against itself over HTTP (so bearer checks, faults and
push behave as for single calls) and answers ``multipart/mixed`` with one ``application/http``
response per part, its ``Content-ID`` being ``response-`` + the request part's, as Google does.
A part without its own Authorization uses the outer request's.
"""

from __future__ import annotations

import aiohttp
from aiohttp import web

from sandboxes.google import errors
from sandboxes.google.api import GOOGLE_SANDBOX

BATCH_PATH = "/batch/calendar/v3"
MAX_PARTS = 1000  # Google's limit for one batch request
_CRLF = b"\r\n"


def _boundary(content_type: str) -> str:
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary" and value:
            return value.strip('"')
    raise errors.invalid("Invalid multipart request with 0 mime parts.")


def _split_head(blob: bytes) -> tuple[list[bytes], bytes]:
    """Header lines and body of a MIME part or an HTTP message (CRLF or LF line ends)."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        head, sep, body = blob.partition(separator)
        if sep:
            return head.replace(b"\r\n", b"\n").split(b"\n"), body
    return blob.replace(b"\r\n", b"\n").split(b"\n"), b""


def _headers(lines: list[bytes]) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.decode("latin-1").partition(":")
        if sep:
            found[name.strip().lower()] = value.strip()
    return found


def _parts(body: bytes, boundary: str) -> list[bytes]:
    delimiter = b"--" + boundary.encode()
    chunks = body.split(delimiter)[1:]  # drop the preamble
    parts = []
    for chunk in chunks:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        parts.append(chunk.strip(b"\r\n"))
    return parts


async def _replay(
    http: aiohttp.ClientSession, origin: str, part: bytes, outer_auth: str | None
) -> bytes:
    """Run one ``application/http`` part; returns its ``HTTP/1.1 ...`` response text."""
    _part_headers, inner = _split_head(part)
    lines, body = _split_head(inner)
    request_line = lines[0].decode("latin-1").split()
    if len(request_line) < 2 or not request_line[1].startswith("/calendar/v3/"):
        return b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n\r\nBad part"
    method, path = request_line[0].upper(), request_line[1]
    headers = _headers(lines[1:])
    send = {
        k: v
        for k, v in headers.items()
        if k in ("authorization", "content-type", "if-match", "if-none-match")
    }
    if "authorization" not in send and outer_auth:
        send["authorization"] = outer_auth
    async with http.request(method, origin + path, headers=send, data=body or None) as resp:
        payload = await resp.read()
        head = [f"HTTP/1.1 {resp.status} {resp.reason}".encode()]
        for name in ("Content-Type", "ETag", "WWW-Authenticate", "Retry-After"):
            if name in resp.headers:
                head.append(f"{name}: {resp.headers[name]}".encode())
        head.append(f"Content-Length: {len(payload)}".encode())
        return _CRLF.join(head) + _CRLF + _CRLF + payload


async def batch(request: web.Request) -> web.Response:
    """Answer a batch request part by part (see the module docstring)."""
    sandbox = request.app[GOOGLE_SANDBOX]
    boundary = _boundary(request.headers.get("Content-Type", ""))
    parts = _parts(await request.read(), boundary)
    if not parts:
        raise errors.invalid("Invalid multipart request with 0 mime parts.")
    if len(parts) > MAX_PARTS:
        raise errors.invalid(f"Too many requests in batch: {len(parts)} (limit {MAX_PARTS}).")
    origin = str(request.url.origin())
    outer_auth = request.headers.get("Authorization")
    answer_boundary = "batch_" + sandbox._opaque(12)
    out: list[bytes] = []
    async with aiohttp.ClientSession() as http:
        for part in parts:
            part_headers = _headers(_split_head(part)[0])
            content_id = part_headers.get("content-id", "")
            response_id = f"<response-{content_id.strip('<>')}>" if content_id else ""
            out.append(b"--" + answer_boundary.encode())
            out.append(b"Content-Type: application/http")
            if response_id:
                out.append(f"Content-ID: {response_id}".encode())
            out.append(b"")
            out.append(await _replay(http, origin, part, outer_auth))
    out.append(b"--" + answer_boundary.encode() + b"--")
    return web.Response(
        body=_CRLF.join(out) + _CRLF,
        headers={"Content-Type": f"multipart/mixed; boundary={answer_boundary}"},
    )


def add_routes(app: web.Application) -> None:
    """Register ``POST /batch/calendar/v3``."""
    app.router.add_post(BATCH_PATH, batch)
