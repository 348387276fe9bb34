"""The kiosk's HTTP side: a small WSGI app over :func:`elicense.verify.inputs.verify_bytes`.

Standard library only (``wsgiref`` + a threading server): a kiosk runs one page
on localhost, so a web framework would add weight and nothing else. The page
and its assets ship in ``elicense/kiosk/static`` and reference nothing outside
the kiosk (the page works offline; the CSP forbids other origins).

Endpoints:

- ``GET /`` (and ``/static/...``): the page.
- ``POST /api/verify``: body = raw image bytes (PNG/JPEG/WebP...), a PDF, or payload
  text, or a ``multipart/form-data`` form holding one of them (``curl -F file=@x.png``); at
  most :data:`MAX_BODY` bytes (else 413). ``?mode=camera`` asks for the fast
  decode used for live frames. Answers JSON: ``status`` (VALID / INVALID /
  INDETERMINATE, the worst when a frame holds several codes), ``label`` {zh, en},
  ``reasons`` [{code, status, zh, en}], ``licence`` (type_code, type_name {zh, en},
  holder / holder_code masked as the catalogue says — for a presentation (亮证) only what was
  disclosed, ``null`` otherwise —, issuer, validity, ``fields`` [{key, zh, en, value}] the QR showed
  or the presentation disclosed, ``disclosed``: element names or ``null``), ``results``
  (one such view per licence found), ``trust`` (as ``/api/status``). Bad input is a
  JSON error ``{"status": "ERROR", "error": {code, zh, en, no_qr}}`` with 400 (empty),
  411, 413 or 422 (unreadable, no QR, bomb).
- ``GET /api/status``: ``trust`` = {path, kind, sequence, issued_at, next_update (the earliest
  next update of every part: lists, status lists, CRLs), bundle_next_update, parts [{kind, name,
  next_update}], now, age_seconds, stale, clock_suspect, warnings [{code, zh, en}]} (``trust_expiring``
  from 3 days before the first part expires).

With ``allowed_hosts`` (``elicense kiosk`` on a loopback address sets :data:`LOOPBACK_HOSTS`),
a request whose ``Host`` header names anything else is refused (403): a web page elsewhere
cannot DNS-rebind its way to the kiosk. A state-changing request (``POST``) whose ``Origin`` or
``Sec-Fetch-Site`` names another web origin is refused (403 ``cross_origin``): a page the kiosk
browser opens cannot post to the kiosk; clients sending neither header (curl, scripts) pass.

The server (:func:`make_server`) is a fixed pool of worker threads over a bounded queue, with a
listen backlog of :data:`LISTEN_BACKLOG`: 100 simultaneous connections are queued, none reset.

The trust file is re-read when it changes on disk (``elicense trust update`` replaces
it atomically), checked at most once a second; a replacement that does not load keeps
the previous trust and raises a warning.

Use in process (tests call the app directly; no socket needed)::

    from elicense.kiosk.server import make_app, make_server, serve
    app = make_app(verifier, bundle_path=path)          # a WSGI callable
    response = app.handle("POST", "/api/verify", body)   # -> Response(status, content_type, body)
    response.json()["status"]                            # "VALID" / "INVALID" / ...
    server = make_server(app, "127.0.0.1", 0)            # a real server on a free port
    threading.Thread(target=server.serve_forever, daemon=True).start()
    serve(app, host="127.0.0.1", port=8080)              # what ``elicense kiosk`` runs
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import mimetypes
import os
import queue
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from wsgiref.types import InputStream, StartResponse, WSGIEnvironment

from elicense.catalog import mask
from elicense.display import neutralise
from elicense.errors import ElicenseError, InputError
from elicense.present.verify import ReplayCache
from elicense.qr import decode
from elicense.trust.freshness import WARN_BEFORE, Part, describe_part, earliest, human_time
from elicense.trust_state import TrustedState, dated_parts
from elicense.verdict.reasons import worst
from elicense.verdict.result import Reason, VerificationResult
from elicense.verify.inputs import verify_bytes
from elicense.verify.verifier import Verifier

MAX_BODY = 10 * 1024 * 1024
"""Largest request body accepted by ``POST /api/verify`` (a phone photo fits; more is 413)."""
DRAIN_LIMIT = 64 * 1024 * 1024
"""An oversized body up to this size is read and dropped before the 413; beyond it the connection is cut."""
RELOAD_INTERVAL_S = 1.0
"""How often (at most) the trust file's stat is checked for a replacement."""
CLOCK_TOLERANCE = dt.timedelta(minutes=10)
"""How far the clock may lie before the bundle's issue time before we call it wrong."""
MAX_CONCURRENT_VERIFY = 2
"""Decodes running at once; more requests wait (a kiosk has one camera)."""
CAMERA_BUDGET_S = 0.3
"""Decode time budget for a live camera frame: the next frame comes soon anyway."""

CJK_FONT = "NotoSerifCJKsc-Regular-subset.otf"

Loader = Callable[[Path], Verifier]

_STATUS_TEXT = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; "
    "connect-src 'self'; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
_LABELS = {"VALID": ("有效", "Valid"), "INVALID": ("无效", "Invalid"), "INDETERMINATE": ("无法确认", "Cannot confirm")}


@dataclass(frozen=True)
class Response:
    """One HTTP answer of the app (what :meth:`KioskApp.handle` returns)."""

    status: int
    """HTTP status code."""
    content_type: str
    """``Content-Type`` header."""
    body: bytes
    """Response body."""
    headers: tuple[tuple[str, str], ...] = field(default=())
    """Extra headers."""

    def json(self) -> Any:
        """The body parsed as JSON (whatever the JSON holds: ``json.loads``'s own type)."""
        return json.loads(self.body)


def _json(status: int, doc: object) -> Response:
    body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    return Response(status, "application/json; charset=utf-8", body, (("Cache-Control", "no-store"),))


def _error(
    status: int, code: str, en: str, zh: str, *, no_qr: bool = False, trust: dict[str, object] | None = None
) -> Response:
    doc: dict[str, object] = {"status": "ERROR", "error": {"code": code, "en": en, "zh": zh, "no_qr": no_qr}}
    if trust is not None:
        doc["trust"] = trust
    return _json(status, doc)


def _iso(when: dt.datetime | None) -> str | None:
    return when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if when else None


def _warning(code: str, en: str, zh: str) -> dict[str, str]:
    return {"code": code, "en": en, "zh": zh}


def default_loader(verifier: Verifier) -> Loader:
    """Reload a trust file the way ``verifier`` was built (same clock and policies)."""

    def load(path: Path) -> Verifier:
        return Verifier.from_trust_file(
            path,
            clock=verifier.clock,
            policies=verifier.policies,
            state=verifier.state_dir,  # the same pinned root and memory
            algorithms=verifier.algorithms,
        )  # an SM2 kiosk reloads SM2 bundles

    return load


class KioskApp:
    """The kiosk as a WSGI application; :meth:`handle` is the socket-free core."""

    def __init__(
        self,
        verifier: Verifier,
        *,
        bundle_path: Path | None = None,
        loader: Loader | None = None,
        max_body: int = MAX_BODY,
        reload_interval: float = RELOAD_INTERVAL_S,
        allowed_hosts: Iterable[str] | None = None,
    ) -> None:
        if verifier.replay_cache is None:  # presentation nonces (亮证) must outlive trust reloads
            verifier.replay_cache = ReplayCache()
        self._verifier = verifier
        self.bundle_path = Path(bundle_path) if bundle_path is not None else None
        self._loader = loader or default_loader(verifier)
        self.max_body = max_body
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts) if allowed_hosts is not None else None
        """Host names the ``Host`` header may carry (``None``: any): a DNS-rebinding page cannot reach the kiosk."""
        self._reload_interval = reload_interval
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT_VERIFY)
        self._stat_key = self._stat()
        self._checked = time.monotonic()
        self._reload_error: str | None = None
        self._missing = False
        self.reloads = 0
        """How many times the trust file was re-read after a change (for tests and logs)."""
        self._parts: tuple[Verifier, list[Part]] | None = None

    # -- trust --------------------------------------------------------------------------

    def _stat(self) -> tuple[int, int, int] | None:
        if self.bundle_path is None:
            return None
        try:
            st = os.stat(self.bundle_path)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    @property
    def verifier(self) -> Verifier:
        """The current verifier, re-read first if the trust file was replaced."""
        if self.bundle_path is None:
            return self._verifier
        now = time.monotonic()
        with self._lock:
            if now - self._checked < self._reload_interval:
                return self._verifier
            self._checked = now
            key = self._stat()
            self._missing = key is None
            if key is None or key == self._stat_key:
                return self._verifier
            try:
                fresh = self._loader(self.bundle_path)
                if _same_bundle(self._verifier, fresh):  # the good bundle is back (same sequence): clear the warning
                    self._stat_key, self._reload_error = key, None
                    return self._verifier
                self._check_replacement(fresh)
            except (ElicenseError, OSError) as exc:
                self._reload_error = str(exc)
                self._stat_key = key  # do not retry a bad file every second; a new write changes the key
                return self._verifier
            fresh.replay_cache = self._verifier.replay_cache  # a reload must not forget spent presentations
            self._verifier, self._stat_key, self._reload_error = fresh, key, None
            self.reloads += 1
            return fresh

    def _check_replacement(self, fresh: Verifier) -> None:
        """What ``elicense trust update`` checks, again: authentic under the installed root, and newer.

        Someone copying a file over the bundle (an old one, or one under another root) must
        not change what the kiosk trusts.
        """
        TrustedState.check_replacement(self._verifier.bundle, fresh.bundle, algorithms=fresh.algorithms)

    def trust_info(self, verifier: Verifier | None = None) -> dict[str, object]:
        """Bundle facts and warnings for the page (``GET /api/status``)."""
        v = verifier or self.verifier
        now = v.clock()
        store = v.trust
        bundle = v.bundle
        warnings: list[dict[str, str]] = []
        issued, next_update = store.issued_at, store.next_update
        cached = self._parts
        if cached is None or cached[0] is not v:  # once per loaded trust, not per camera frame
            cached = self._parts = (v, dated_parts(bundle, v.status, store))
        dated = cached[1]  # the bundle's freshness is its earliest part's (#20)
        first = earliest(dated)
        if first is not None:
            next_update = first.next_update
        stale = store.is_stale(now) or (first is not None and now > first.next_update)
        if stale:
            what = f" ({describe_part(first, 'en')} expired {human_time(first.next_update, 'en')})" if first else ""
            what_zh = f"（{describe_part(first, 'zh')}已于 {human_time(first.next_update, 'zh')}过期）" if first else ""
            warnings.append(
                _warning(
                    "trust_stale",
                    f"The trust data is out of date{what}: verdicts are 'cannot confirm' until 'elicense trust update'",
                    f"信任数据已过期{what_zh}，核验结果将为无法确认，请更新（elicense trust update）",
                )
            )
        elif first is not None and now > first.next_update - WARN_BEFORE:
            warnings.append(
                _warning(
                    "trust_expiring",
                    f"The trust data expires {human_time(first.next_update, 'en')} ({describe_part(first, 'en')}): "
                    "after that verdicts are 'cannot confirm'; run 'elicense trust update' before",
                    f"信任数据将于 {human_time(first.next_update, 'zh')}过期（{describe_part(first, 'zh')}），"
                    "之后核验结果将为无法确认，请及时更新（elicense trust update）",
                )
            )
        clock_suspect = issued is not None and now < issued - CLOCK_TOLERANCE
        if clock_suspect:
            warnings.append(
                _warning(
                    "clock_suspect",
                    "The system clock is earlier than the trust data's issue time: check the clock",
                    "系统时间早于信任数据签发时间，请检查时钟",
                )
            )
        if issued is None:
            warnings.append(_warning("trust_undated", "The trust data carries no issue time", "信任数据未标明签发时间"))
        if self._missing:
            warnings.append(
                _warning(
                    "trust_missing",
                    f"The trust file {self.bundle_path} cannot be read; using the trust loaded before",
                    "信任数据文件无法读取，仍使用先前加载的信任数据",
                )
            )
        if self._reload_error:
            warnings.append(
                _warning(
                    "trust_reload_failed",
                    f"The updated trust file was not loaded: {self._reload_error}",
                    "更新后的信任数据未能加载，仍使用原信任数据",
                )
            )
        return {
            "path": str(self.bundle_path) if self.bundle_path else None,
            "kind": "bundle" if bundle is not None else "file",
            "sequence": bundle.sequence if bundle is not None else None,
            "issued_at": _iso(issued),
            "next_update": _iso(next_update),
            "bundle_next_update": _iso(store.next_update),
            "parts": [p.to_dict() for p in dated],
            "now": _iso(now),
            "age_seconds": int((now - issued).total_seconds()) if issued else None,
            "stale": stale,
            "clock_suspect": clock_suspect,
            "warnings": warnings,
        }

    # -- views --------------------------------------------------------------------------

    @staticmethod
    def _reason(reason: Reason) -> dict[str, str]:
        return {
            "code": reason.code,
            "status": reason.status.value,
            "zh": reason.message("zh"),
            "en": reason.message("en"),
        }

    @staticmethod
    def result_view(result: VerificationResult) -> dict[str, object]:
        """What the page shows of one result; the holder masked as the catalogue says."""
        status = result.status.value
        licence: dict[str, object] | None = None
        lic, lt = result.licence, result.licence_type
        disclosed = result.disclosed
        if lic is not None:
            name: str | None = lic.holder_name
            code: str | None = lic.holder_code
            if disclosed is not None:  # a presentation (亮证): what the holder chose to show, nothing else
                name = name if "holder_name" in disclosed and name else None
                code = code if "holder_code" in disclosed and code else None
            else:
                if lt is None or lt.holder_name_qr == "mask":  # unknown type: mask rather than leak
                    name = mask(name, keep_start=1, keep_end=0) if name else None
                if lt is None or lt.holder_code_qr == "mask":
                    code = mask(code, keep_start=1, keep_end=1) if code else None
            licence = {
                "id": str(lic.id),
                "number": lic.number,
                "type_code": lic.type_code,
                "type_name": {"zh": lt.name_zh if lt else None, "en": lt.name_en if lt else None},
                "holder": name,
                "holder_code": code,
                "issuer": result.issuer.name if result.issuer else lic.id.issuer_code,
                "issuer_code": lic.id.issuer_code,
                "area_code": lic.area_code,
                "valid_from": lic.valid_from.isoformat(),
                "valid_until": lic.valid_until.isoformat() if lic.valid_until else None,
                "fields": _field_views(result),
                "disclosed": list(disclosed) if disclosed is not None else None,
            }
        zh, en = _LABELS.get(status, (status, status))
        if licence is not None:  # names from a payload: bidi/zero-width characters shown as <U+202E>
            licence = {k: neutralise(v) if isinstance(v, str) else v for k, v in licence.items()}
        return {
            "kind": result.kind,
            "status": status,
            "label": {"zh": zh, "en": en},
            "reasons": [KioskApp._reason(x) for x in result.reasons],
            "licence": licence,
            "verified_at": _iso(result.verified_at),
        }

    # -- requests -----------------------------------------------------------------------

    def verify_body(self, body: bytes, *, camera: bool = False) -> Response:
        """``POST /api/verify`` once the body is read."""
        verifier = self.verifier
        trust = self.trust_info(verifier)
        if not body.strip():
            return _error(400, "empty", "The request body is empty", "请求内容为空", trust=trust)
        if not self._slots.acquire(timeout=10):
            return _error(503, "busy", "The kiosk is busy, try again", "终端繁忙，请重试", trust=trust)
        try:
            if camera:
                with decode.budget(CAMERA_BUDGET_S):
                    results = verify_bytes(verifier, body)
            else:
                results = verify_bytes(verifier, body)
        except InputError as exc:
            no_qr = exc.details.get("reason") in ("no_qr", "not_elicense")
            return _error(
                422,
                str(exc.details.get("reason") or exc.code),
                exc.message,
                exc.message_zh or exc.message,
                no_qr=no_qr,
                trust=trust,
            )
        except ElicenseError as exc:
            return _error(422, exc.code, exc.message, exc.message_zh or exc.message, trust=trust)
        finally:
            self._slots.release()
        views = [self.result_view(x) for x in results]
        top = worst(x.status for x in results)
        main = next(v for v, x in zip(views, results, strict=True) if x.status is top)
        return _json(200, {**main, "count": len(views), "results": views, "trust": trust})

    def handle(self, method: str, path: str, body: bytes = b"", query: str = "", content_type: str = "") -> Response:
        """Answer one request (the WSGI wrapper reads and bounds the body first); ``path`` may hold a query.

        ``POST /api/verify`` takes the raw bytes, or a ``multipart/form-data`` form with a file.
        """
        path, _, inline_query = path.partition("?")
        query = query or inline_query
        if path == "/api/verify":
            if method != "POST":
                return _error(405, "method", "Use POST", "请使用 POST")
            if len(body) > self.max_body:
                return _error(
                    413,
                    "too_large",
                    f"The upload exceeds {self.max_body} bytes",
                    f"上传内容超过 {self.max_body // (1024 * 1024)} MB",
                )
            if content_type.lower().startswith("multipart/form-data"):
                try:
                    body = _form_upload(content_type, body)
                except InputError as exc:
                    return _error(400, "form", exc.message, exc.message_zh or exc.message)
            camera = parse_qs(query).get("mode") == ["camera"]
            return self.verify_body(body, camera=camera)
        if method not in ("GET", "HEAD"):
            return _error(405, "method", "Method not allowed", "不支持的请求方法")
        if path == "/api/status":
            return _json(200, {"trust": self.trust_info()})
        if path in ("/", "/index.html"):
            return self._static("index.html")
        if path.startswith("/static/"):
            return self._static(path.removeprefix("/static/"))
        return _error(404, "not_found", "Not found", "未找到")

    @staticmethod
    def _static(name: str) -> Response:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            return _error(404, "not_found", "Not found", "未找到")
        if name == "cjk.otf":  # the font the PDFs embed: Chinese text even on a kiosk without CJK fonts
            item = resources.files("elicense.fonts").joinpath(CJK_FONT)
        else:
            item = resources.files("elicense.kiosk").joinpath("static", name)
        try:
            found = item.is_file()
        except (OSError, ValueError):  # a name too long for the file system, a NUL byte (fuzz finding)
            found = False
        if not found:
            return _error(404, "not_found", "Not found", "未找到")
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/javascript", "text/javascript"):
            ctype += "; charset=utf-8"
        return Response(200, ctype, item.read_bytes(), (("Cache-Control", "no-cache"),))

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """WSGI entry point: bound the body before reading it."""
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("PATH_INFO", "/")) or "/"
        query = str(environ.get("QUERY_STRING", ""))
        body = b""
        response: Response | None = None
        if self.allowed_hosts is not None and _host_name(str(environ.get("HTTP_HOST", ""))) not in self.allowed_hosts:
            response = _error(403, "host", "Unexpected Host header", "请求的主机名不被允许")
        elif method not in _SAFE_METHODS and (refusal := _cross_origin(environ)) is not None:
            raw_length = str(environ.get("CONTENT_LENGTH") or "").strip()
            if raw_length.isdigit():  # read and drop the body so the client sees the 403, not a reset
                _drain(environ["wsgi.input"], int(raw_length))
            response = _error(
                403, "cross_origin", f"Cross-origin request refused ({refusal})", "拒绝来自其他网页的请求（跨源请求）"
            )
        elif method == "POST":
            raw_length = str(environ.get("CONTENT_LENGTH") or "").strip()
            if not raw_length.isdigit():
                response = _error(411, "length_required", "Content-Length is required", "缺少 Content-Length")
            elif int(raw_length) > self.max_body:
                _drain(environ["wsgi.input"], int(raw_length))
                response = _error(
                    413,
                    "too_large",
                    f"The upload exceeds {self.max_body} bytes",
                    f"上传内容超过 {self.max_body // (1024 * 1024)} MB",
                )
            else:
                body = environ["wsgi.input"].read(int(raw_length))
        if response is None:
            try:
                response = self.handle(method, path, body, query, str(environ.get("CONTENT_TYPE", "")))
            except Exception as exc:  # one bad request must not take the kiosk down
                response = _error(500, "internal", f"internal error: {type(exc).__name__}", "内部错误")
        headers = [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(response.body))),
            ("Content-Security-Policy", _CSP),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            *response.headers,
        ]
        start_response(f"{response.status} {_STATUS_TEXT.get(response.status, 'Status')}", headers)
        return [b"" if method == "HEAD" else response.body]


def _field_views(result: VerificationResult) -> list[dict[str, object]]:
    """The fields the QR showed, or a presentation disclosed, with their catalogue labels."""
    lt = result.licence_type
    out: list[dict[str, object]] = []
    for key, value in result.fields.items():
        spec = None
        if lt is not None:
            try:
                spec = lt.field(key)
            except ElicenseError:
                spec = None
        out.append({"key": key, "zh": spec.name_zh if spec else key, "en": spec.name_en if spec else key,
                    "value": value})  # fmt: skip
    return out


MAX_FORM_PARTS = 16
"""A kiosk form carries one file (and perhaps a field or two): more parts are refused, not parsed."""
_BOUNDARY = re.compile(r'boundary="?([^";,\s]{1,70})"?', re.I)
_DISPOSITION = re.compile(rb"(?im)^content-disposition:[^\r\n]*")
_PARAM = re.compile(rb'(name|filename)="([^"\r\n]{0,256})"', re.I)


def _form_upload(content_type: str, body: bytes) -> bytes:
    """The uploaded file of a ``multipart/form-data`` body (``curl -F file=@x.png``), else a ``payload`` field.

    A small linear splitter, not the e-mail parser (which takes minutes over 10 MB of tiny parts):
    at most :data:`MAX_FORM_PARTS` parts, the body already bounded by :data:`MAX_BODY`.
    """
    found = _BOUNDARY.search(content_type)
    if found is None:
        raise InputError("multipart/form-data without a boundary", message_zh="表单上传缺少分隔符")
    delimiter = b"--" + found.group(1).encode("ascii", "replace")
    chunks = body.split(delimiter, MAX_FORM_PARTS + 1)
    if len(chunks) > MAX_FORM_PARTS + 1:
        raise InputError(f"the form has more than {MAX_FORM_PARTS} parts", message_zh="表单部分过多")
    fields: list[tuple[str | None, bool, bytes]] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):  # the closing delimiter
            break
        head, sep, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            continue
        disposition = _DISPOSITION.search(head)
        params = dict(_PARAM.findall(disposition.group(0))) if disposition else {}
        name = params.get(b"name")
        fields.append((name.decode("utf-8", "replace") if name is not None else None, b"filename" in params,
                       data.removesuffix(b"\r\n")))  # fmt: skip
    for _, is_file, data in fields:  # a file first, then a field called file/payload/qr
        if is_file and data:
            return data
    for name, _, data in fields:
        if name in ("file", "payload", "qr", "data") and data:
            return data
    raise InputError("the form holds no file (send -F file=@image.png)", message_zh="表单中没有上传文件")


def _same_bundle(old: Verifier, new: Verifier) -> bool:
    """Whether a re-read trust file holds the very bundle already loaded (byte for byte)."""
    a, b = old.bundle, new.bundle
    return a is not None and b is not None and a.raw == b.raw


def _host_name(header: str) -> str:
    """``Host`` header without the port (``[::1]:8080`` → ``[::1]``)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header.split("]", 1)[0] + "]"
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


_SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
_SAME_SITE_FETCH = frozenset(("same-origin", "none"))
"""``Sec-Fetch-Site`` values of the kiosk's own page (and of a user typing the address)."""


def _cross_origin(environ: WSGIEnvironment) -> str | None:
    """Why a state-changing request comes from another web origin, or ``None`` (#16).

    A browser marks every request of a page with ``Sec-Fetch-Site`` and a POST with ``Origin``;
    either naming another origin is refused: a web page the kiosk browser opens must not drive
    the kiosk. Clients that send neither (curl, scripts, the tests) are not browsers and pass.
    """
    site = str(environ.get("HTTP_SEC_FETCH_SITE", "")).strip().lower()
    if site and site not in _SAME_SITE_FETCH:
        return f"Sec-Fetch-Site: {site[:32]}"
    origin = environ.get("HTTP_ORIGIN")
    if origin is None:
        return None
    origin = str(origin).strip().lower()
    scheme = str(environ.get("wsgi.url_scheme", "http")).lower()
    host = str(environ.get("HTTP_HOST", "")).strip().lower()
    if not host:
        name, port = str(environ.get("SERVER_NAME", "")).lower(), str(environ.get("SERVER_PORT", ""))
        host = name if (scheme, port) in (("http", "80"), ("https", "443")) else f"{name}:{port}"
    default_port = {"http": ":80", "https": ":443"}.get(scheme, "")
    own = {f"{scheme}://{host}", f"{scheme}://{host.removesuffix(default_port)}"}
    if origin in own:
        return None
    return f"Origin: {origin[:64]}"


LOOPBACK_HOSTS = frozenset(("localhost", "127.0.0.1", "[::1]"))
"""What ``Host`` may say when the kiosk listens on a loopback address."""


def _drain(stream: InputStream, length: int) -> None:
    """Read and drop an oversized body (up to :data:`DRAIN_LIMIT`) so the client sees the 413, not a reset."""
    left = min(length, DRAIN_LIMIT)
    while left > 0:
        chunk = stream.read(min(left, 65536))
        if not chunk:
            break
        left -= len(chunk)


def make_app(
    verifier: Verifier,
    *,
    bundle_path: Path | str | None = None,
    loader: Loader | None = None,
    max_body: int = MAX_BODY,
    allowed_hosts: Iterable[str] | None = None,
) -> KioskApp:
    """The kiosk app over ``verifier``; with ``bundle_path`` it follows that file's replacements."""
    return KioskApp(
        verifier,
        bundle_path=Path(bundle_path) if bundle_path is not None else None,
        loader=loader,
        max_body=max_body,
        allowed_hosts=allowed_hosts,
    )


LISTEN_BACKLOG = 512
"""Connections the kernel queues before the kiosk accepts them (the default of 5 dropped SYNs: #16)."""
WORKERS = 32
"""Threads answering requests; more connections wait in the queue (verification itself is
bounded by :data:`MAX_CONCURRENT_VERIFY`)."""
QUEUE_LIMIT = 1024
"""Accepted connections waiting for a worker; beyond it a connection gets a 503 at once."""
REQUEST_TIMEOUT_S = 30
"""A stalled client holds a worker at most this long per read."""


def make_server(
    app: KioskApp,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    quiet: bool = True,
    workers: int = WORKERS,
    queue_limit: int = QUEUE_LIMIT,
) -> WSGIServer:
    """An HTTP server for ``app`` (``port=0``: a free port, see ``server.server_port``).

    A fixed pool of ``workers`` threads serves a bounded queue of accepted connections, behind a
    listen backlog of :data:`LISTEN_BACKLOG`: a burst of connections is queued, never reset, and
    cannot grow threads or memory without bound.
    """

    class Handler(WSGIRequestHandler):
        timeout = REQUEST_TIMEOUT_S  # a stalled client cannot hold a worker for ever

        def log_message(self, format: str, *args: Any) -> None:
            if not quiet:
                super().log_message(format, *args)

    class Server(WSGIServer):
        allow_reuse_address = True
        request_queue_size = LISTEN_BACKLOG

        def __init__(self, address: tuple[str, int]) -> None:
            self.pending: queue.Queue[tuple[socket.socket, tuple[str, int]] | None] = queue.Queue(queue_limit)
            self.workers = [threading.Thread(target=self._work, daemon=True, name=f"kiosk-worker-{i}")
                            for i in range(workers)]  # fmt: skip
            super().__init__(address, Handler)
            for worker in self.workers:
                worker.start()

        def process_request(self, request: socket.socket, client_address: tuple[str, int]) -> None:  # type: ignore[override]
            try:
                self.pending.put_nowait((request, client_address))
            except queue.Full:  # every worker busy and the queue full: say so, do not reset
                with contextlib.suppress(OSError):
                    request.settimeout(1)
                    request.sendall(_BUSY_RESPONSE)
                self.shutdown_request(request)

        def _work(self) -> None:
            while True:
                item = self.pending.get()
                if item is None:
                    return
                request, client_address = item
                try:
                    self.finish_request(request, client_address)
                except Exception:  # as socketserver: report, keep the worker
                    self.handle_error(request, client_address)
                finally:
                    self.shutdown_request(request)

        def server_close(self) -> None:
            super().server_close()
            for _ in self.workers:
                with contextlib.suppress(queue.Full):
                    self.pending.put_nowait(None)

    server = Server((host, port))
    server.set_app(app)
    return server


_BUSY_BODY = json.dumps({"status": "ERROR", "error": {"code": "busy", "en": "The kiosk is busy, try again",
                                                      "zh": "终端繁忙，请重试", "no_qr": False}},
                        ensure_ascii=False).encode("utf-8")  # fmt: skip
_BUSY_RESPONSE = (
    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n"
    b"Connection: close\r\nContent-Length: " + str(len(_BUSY_BODY)).encode() + b"\r\n\r\n" + _BUSY_BODY
)


def serve(
    app: KioskApp,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    quiet: bool = True,
    ready: Callable[[WSGIServer], None] | None = None,
) -> None:
    """Serve ``app`` until interrupted; ``ready`` is called with the bound server first."""
    server = make_server(app, host, port, quiet=quiet)
    try:
        if ready is not None:
            ready(server)
        server.serve_forever()
    finally:
        server.server_close()
