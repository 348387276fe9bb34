"""``elicense verify``: payload text, QR image, PDF or OFD → VALID / INVALID / INDETERMINATE.

No click here: the options are declared once, in :data:`OPTIONS`; the click command
(:mod:`elicense.cli.verify_command`) is built from that table, and a plain command line is
parsed from it by :func:`fast_options` without loading click (cold start, #8).
"""

from __future__ import annotations

import datetime as dt
import gc
import itertools
import json
import os
import sys
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, NamedTuple

from elicense.cli.common import EXIT_ERROR, default_lang, echo_err
from elicense.errors import ElicenseError, InputError, TrustError, UsageError

if TYPE_CHECKING:
    from multiprocessing.pool import AsyncResult

    from elicense.crypto.algorithms import AlgorithmPolicy
    from elicense.verdict.result import VerificationResult
    from elicense.verify.verifier import Verifier

    _Item = tuple[int, Literal["payload", "local"], bytes] | tuple[int, Literal["error"], str]
    """A ``--batch`` line: a payload (``local``: a presentation this process verifies) or an error's output line."""

MAX_BATCH_LINE = 8192


def parse_at(value: str | None) -> dt.datetime | None:
    """``--at``: ISO-8601; a value without offset is taken as UTC; a bare date as 00:00 UTC."""
    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise UsageError(f"--at: not an ISO-8601 time: {value!r}", message_zh=f"--at 时间格式错误：{value!r}") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    from elicense.verify.verifier import MAX_AT, MIN_AT

    try:
        when = when.astimezone(dt.UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00: before datetime's first instant in UTC
        when = MIN_AT - dt.timedelta(microseconds=1) if when.year == 1 else MAX_AT
    if not MIN_AT <= when < MAX_AT:  # a usage error (exit 3), not an internal one (#16)
        raise UsageError(
            f"--at: {value.strip()!r} is outside the times a licence can be verified at "
            f"({MIN_AT.date()} .. {MAX_AT.date()}, exclusive)",
            message_zh=f"--at 时间 {value.strip()!r} 超出可校验的范围（{MIN_AT.date()} 至 {MAX_AT.date()} 之前）",
        )
    return when


ALGORITHMS_ENV = "ELICENSE_ALGORITHMS"


def algorithm_policy(values: tuple[str, ...] | list[str] = ()) -> AlgorithmPolicy | None:
    """``--allow-alg`` values (repeatable, comma lists), else ``$ELICENSE_ALGORITHMS``, else ``None`` (default).

    The list *replaces* the default allow-list (pyjwt style): ``--allow-alg SM2`` is an SM2-only verifier.
    """
    labels = [x.strip() for v in values for x in v.split(",") if x.strip()]
    if not labels:
        labels = [x.strip() for x in os.environ.get(ALGORITHMS_ENV, "").split(",") if x.strip()]
    if not labels:
        return None
    from elicense.crypto.algorithms import AlgorithmPolicy

    return AlgorithmPolicy.of(labels)


def load_verifier(
    trust: str | None,
    region: str | None = None,
    accept_region: str | None = None,
    algorithms: AlgorithmPolicy | None = None,
    state: str | None = None,
) -> Verifier:
    """Build the verifier from ``--trust`` / ``$ELICENSE_TRUST`` (``algorithms``: an AlgorithmPolicy or None)."""
    from elicense.verify import AcceptRegions, Policy, Verifier

    path = trust or os.environ.get("ELICENSE_TRUST")
    if not path:
        raise UsageError(
            "no trust data: pass --trust BUNDLE or set ELICENSE_TRUST",
            message_zh="未提供信任数据：请使用 --trust 或设置 ELICENSE_TRUST",
        )
    policies: list[Policy] = []
    if accept_region:
        regions = frozenset(code.strip() for code in accept_region.split(",") if code.strip())
        bad = [c for c in regions if len(c) != 6 or not c.isdigit()]
        if bad or not regions:
            raise UsageError(f"--accept-region: expected 6-digit region codes, got {accept_region!r}")
        policies.append(AcceptRegions(regions))
    from elicense.trust.bundle import COSE_TAG_PREFIX

    try:
        with Path(path).open("rb") as fh:
            signed_bundle = fh.read(1) == COSE_TAG_PREFIX
    except OSError as exc:
        raise TrustError(
            f"cannot read trust data {path}: {exc.strerror}", message_zh=f"无法读取信任数据 {path}"
        ) from exc
    if algorithms is None:  # the kiosk and other callers: $ELICENSE_ALGORITHMS, else the default allow-list
        algorithms = algorithm_policy()
    extra: dict[str, Any] = {} if algorithms is None else {"algorithms": algorithms}
    if state:  # --state DIR (else the verifier reads $ELICENSE_STATE): sequence memory, no rollback
        extra["state"] = state
    if signed_bundle:  # the signed offline bundle: trust lists, recognition agreements, status
        return Verifier.from_bundle(Path(path), region=region, policies=policies, **extra)
    if region:
        raise UsageError(
            "--region needs a signed trust bundle (the JSON trust file has no recognition agreements)",
            message_zh="--region 需要签名的信任数据包（JSON 信任文件不含互认协议）",
        )
    # from_trust_file also loads the file's status section (status lists, CRLs) when present
    return Verifier.from_trust_file(Path(path), policies=policies, **extra)


_PREFIXES = ("EL2:", "EP1:")
"""What a payload starts with: ``verify.inputs.PAYLOAD_PREFIXES`` without importing it (cold start; a test
holds the two equal)."""


def _is_file(path: Path) -> bool:
    # a pasted payload is longer than NAME_MAX: exists() raises ENAMETOOLONG on 3.11
    try:
        return path.exists()
    except OSError:
        return False


def read_verify_input(name: str) -> bytes:
    """A pasted payload, else the file or stdin, bounded in size and time (``verify.inputs.read_input``)."""
    from elicense.verify.inputs import read_input

    if name != "-" and name.lstrip().startswith(_PREFIXES) and not _is_file(Path(name)):
        return name.encode("ascii", "replace")  # a pasted payload
    return read_input(name)


def _human(name: str, result: VerificationResult, lang: str) -> str:
    from elicense.display import neutralise

    d = _neutralised(result.to_dict(lang), neutralise)
    status = f"{result.status.value} ({result.status.label(lang)})"
    lines = [f"{name}: {status}"]
    lic = d["licence"]
    if lic:
        zh = lang == "zh"
        lines.append(f"  {'证照' if zh else 'licence'}: {lic['type_name'] or lic['type_code']}  {lic['id']}")
        hidden = "未出示" if zh else "not disclosed"  # a presentation (亮证) may withhold holder data
        lines.append(f"  {'持证主体' if zh else 'holder'}: {lic['holder'] or hidden} ({lic['holder_code'] or hidden})")
        if lic.get("disclosed") is not None:
            shown = ", ".join(f"{k}={v}" for k, v in lic["fields"].items()) or "-"
            lines.append(f"  {'出示字段' if zh else 'disclosed fields'}: {shown}")
        lines.append(f"  {'发证机关' if zh else 'issuer'}: {lic['issuer']} [{lic['area_code']}]")
        until = lic["valid_until"] or ("长期" if zh else "long-term")
        lines.append(f"  {'有效期' if zh else 'validity'}: {lic['valid_from']} – {until}")
    for reason in d["reasons"]:
        lines.append(f"  {'原因' if lang == 'zh' else 'reason'}: [{reason['code']}] {reason['message']}")
    return "\n".join(lines)


def _neutralised(value: Any, neutralise: Callable[[str], str]) -> Any:
    """Every string of a result document with bidi/zero-width/control characters made visible (a payload
    signed by a rogue issuer may carry them: the terminal must not reorder or hide a name)."""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, dict):
        return {k: _neutralised(v, neutralise) for k, v in value.items()}
    if isinstance(value, list):
        return [_neutralised(v, neutralise) for v in value]
    return value


def _error_object(name: str, exc: ElicenseError, lang: str) -> dict[str, Any]:
    return {
        "input": name,
        "status": "ERROR",
        "error": {"code": exc.code, "message": exc.localized(lang)},
        "reasons": [],
        "licence": None,
    }


def _severity(code: int) -> int:
    # worst-of ordering for exit codes: error > invalid > indeterminate > valid
    return {0: 0, 2: 1, 1: 2}.get(code, 3)


def _worse(a: int, b: int) -> int:
    return a if _severity(a) >= _severity(b) else b


def _echo(message: str, err: bool = False) -> None:
    """``click.echo`` for a UTF-8 stream: the line, then a flush (stdout and stderr interleave as under click)."""
    if err:
        echo_err(message)
        return
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


class Opt(NamedTuple):
    """One ``verify`` option, declared once: :mod:`elicense.cli.verify_command` builds the click
    option from it and :func:`fast_options` parses it, so the two paths cannot drift apart."""

    flags: tuple[str, ...]
    dest: str
    """The :class:`VerifyOptions` field."""
    help: str
    metavar: str | None = None
    flag: bool = False
    multiple: bool = False
    choices: tuple[str, ...] | None = None
    int_range: tuple[int, int] | None = None
    """Inclusive bounds of an integer option (shown with its default)."""


OPTIONS: tuple[Opt, ...] = (
    Opt(("--trust",), "trust", "Trust bundle/file (default: $ELICENSE_TRUST).", "BUNDLE"),
    Opt(("--at",), "at", "Verify as of this time (default: now).", "ISO-8601"),
    Opt(("--json",), "as_json", "One JSON object per input (per licence found).", flag=True),
    Opt(("--lang",), "lang", "Message language.", choices=("zh", "en")),
    Opt(("--batch",), "batch", "One payload per line in, one JSON object per line out.", "FILE|-"),
    Opt(("--accept-region",), "accept_region", "Accept only licences issued in these regions.", "CODE[,CODE]"),
    Opt(("--region",), "region", "Verify as a relying party of this region (its recognition agreements).", "CODE"),
    Opt(
        ("--state",),
        "state_dir",
        "Verifier state directory (default: $ELICENSE_STATE): refuses older bundles and status lists.",
        "DIR",
    ),
    Opt(
        ("--allow-alg", "--algorithms"),
        "allow_alg",
        "Accepted signature algorithms, replacing the default ES256,EdDSA,PS256 "
        "(e.g. --allow-alg SM2; default: $ELICENSE_ALGORITHMS).",
        "ALG[,ALG]",
        multiple=True,
    ),
    Opt(
        ("--workers",),
        "workers",
        "With --batch: verify in N processes (output order and content unchanged).",
        "N",
        int_range=(1, 64),
    ),
)
"""The options of ``elicense verify``, in ``--help`` order; the one positional is ``INPUTS...``."""

_BY_FLAG = {name: opt for opt in OPTIONS for name in opt.flags}


@dataclass(frozen=True)
class VerifyOptions:
    """One ``elicense verify`` command line, parsed (by click or by :func:`fast_options`).

    The defaults are click's for an absent option: ``None``, ``False``, ``()``, and ``--workers`` 1.
    """

    inputs: tuple[str, ...] = ()
    trust: str | None = None
    at: str | None = None
    as_json: bool = False
    lang: str | None = None
    batch: str | None = None
    accept_region: str | None = None
    region: str | None = None
    state_dir: str | None = None
    allow_alg: tuple[str, ...] = ()
    workers: int = 1


def fast_options(args: list[str]) -> VerifyOptions | None:
    """The options of a plain ``verify`` command line, read from :data:`OPTIONS`, else ``None`` (let click parse it).

    Accepts what click would accept to the same values — known long options, ``--opt value`` and
    ``--opt=value``, arguments anywhere, ``--`` — and gives up on anything else (``--help``, an
    unknown or malformed option, a value outside an option's choices or range, a value that looks
    like an option), so every error message is still click's.
    """
    values: dict[str, Any] = {}  # VerifyOptions fields by name, as click's keyword arguments
    inputs: list[str] = []
    multiple: dict[str, list[str]] = {}
    i, count = 0, len(args)
    while i < count:
        arg = args[i]
        i += 1
        if arg == "--":
            inputs.extend(args[i:])
            break
        if arg[:1] != "-" or arg == "-":
            inputs.append(arg)
            continue
        name, eq, value = arg.partition("=")
        opt = _BY_FLAG.get(name)
        if opt is None:
            return None
        if opt.flag:
            if eq:
                return None
            values[opt.dest] = True
            continue
        if not eq:
            if i == count or (args[i][:1] == "-" and args[i] != "-"):
                return None
            value = args[i]
            i += 1
        if opt.multiple:
            multiple.setdefault(opt.dest, []).append(value)
        elif opt.choices is not None and value not in opt.choices:
            return None
        elif opt.int_range is not None:
            low, high = opt.int_range
            if not (value.isascii() and value.isdigit() and low <= int(value) <= high):
                return None
            values[opt.dest] = int(value)
        else:
            values[opt.dest] = value
    for dest, items in multiple.items():
        values[dest] = tuple(items)
    return VerifyOptions(inputs=tuple(inputs), **values)


def run_verify(options: VerifyOptions, *, echo: Callable[..., object] | None = None, freeze_gc: bool = False) -> int:
    """The ``verify`` command's work, for both the click command and the click-free fast path.

    ``echo(message, err=False)`` writes one line (click's ``echo`` under click; plain writes on
    the fast path, which only runs on UTF-8 streams, where the two write the same bytes).
    ``freeze_gc``: the process ends after this command (see :func:`elicense.cli.run`).
    """
    echo = echo or _echo
    lang = options.lang or default_lang()
    inputs, batch = options.inputs, options.batch
    if batch and inputs:
        raise UsageError("give either INPUT... or --batch, not both")
    if not batch and not inputs:
        raise UsageError("nothing to verify: give INPUT... or --batch FILE", message_zh="没有要校验的输入")
    if options.workers > 1 and not batch:
        raise UsageError("--workers needs --batch", message_zh="--workers 需与 --batch 一起使用")
    at = parse_at(options.at)
    # The verify stack's imports and the trust data make ~20k objects that live as long as the
    # process: the ~40 collections they would trigger free nothing. In a CLI process they are then
    # frozen out of every later collection (gc.freeze; also keeps --workers' forks copy-on-write).
    collecting = gc.isenabled()
    gc.disable()
    try:
        verifier = _load(options)
    finally:
        if collecting:
            if freeze_gc:
                gc.freeze()
            gc.enable()
    if batch:
        return _batch(verifier, options, at, lang)
    from elicense.verify.inputs import verify_bytes

    code = 0
    for name in inputs:
        try:
            results = verify_bytes(verifier, read_verify_input(name), at=at, source=None if name == "-" else Path(name))
        except ElicenseError as exc:
            if options.as_json:
                echo(json.dumps(_error_object(name, exc, lang), ensure_ascii=False))
            echo(f"elicense: error: {name}: {exc.localized(lang)}", err=True)
            code = _worse(code, EXIT_ERROR)
            continue
        for result in results:
            if options.as_json:
                echo(json.dumps({"input": name, **result.to_dict(lang)}, ensure_ascii=False))
            else:
                echo(_human(name, result, lang))
            code = _worse(code, result.status.exit_code)
    return code


def _load(options: VerifyOptions) -> Verifier:
    """The verifier of a ``verify`` command line (also rebuilt by each ``--workers`` process under spawn)."""
    return load_verifier(
        options.trust, options.region, options.accept_region, algorithm_policy(options.allow_alg), options.state_dir
    )


def _batch(verifier: Verifier, options: VerifyOptions, at: dt.datetime | None, lang: str) -> int:
    source = options.batch
    assert source is not None
    stream: IO[bytes]
    if source == "-":
        stream = sys.stdin.buffer
    else:
        try:
            stream = Path(source).open("rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise InputError(f"{source}: {exc.strerror}", message_zh=f"{source}：无法读取") from exc
    try:
        if options.workers > 1:
            return _batch_parallel(verifier, stream, at, lang, options)
        code = 0
        write = sys.stdout.write
        for item in _batch_items(stream, lang):
            if item[1] == "error":
                write(item[2])
                code = _worse(code, EXIT_ERROR)
                continue
            line, exit_code = _batch_line(verifier, item[0], item[2], at, lang)
            write(line)
            code = _worse(code, exit_code)
        return code
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _batch_items(stream: IO[bytes], lang: str) -> Iterator[_Item]:
    """``(line number, "payload", stripped bytes)`` per non-blank line; ``"error"`` items carry their output line.

    Lines are read bounded: an oversized line is skipped without holding it in memory.
    """
    readline = stream.readline
    for lineno, raw in enumerate(iter(lambda: readline(MAX_BATCH_LINE + 1), b""), 1):
        if len(raw) > MAX_BATCH_LINE and not raw.endswith(b"\n"):
            while True:  # skip the rest of an oversized line without holding it in memory
                more = readline(MAX_BATCH_LINE + 1)
                if not more or more.endswith(b"\n"):
                    break
            err = InputError(f"line {lineno} longer than {MAX_BATCH_LINE} bytes", message_zh=f"第 {lineno} 行过长")
            yield lineno, "error", _json_line({"line": lineno, **_error_object(str(lineno), err, lang)})
            continue
        text = raw.strip()
        if text:
            yield lineno, "payload", text


_ENCODER = json.JSONEncoder(ensure_ascii=False)
"""``json.dumps(obj, ensure_ascii=False)`` without building an encoder per line (batch hot path)."""


def _json_line(obj: dict[str, Any]) -> str:
    return _ENCODER.encode(obj) + "\n"


def _batch_line(verifier: Verifier, lineno: int, text: bytes, at: dt.datetime | None, lang: str) -> tuple[str, int]:
    """One payload line → (its JSON output line, its exit code). The one place both batch modes verify.

    A line that is not a payload but names a file (a PDF, an OFD, an image) verifies that file.
    """
    if not text.startswith((b"EL", b"EP")) and b"\0" not in text and _is_file(Path(os.fsdecode(text))):
        return _batch_file(verifier, lineno, os.fsdecode(text), at, lang)
    try:
        payload = text.decode("ascii")
    except UnicodeDecodeError:
        err = InputError(f"line {lineno} is not ASCII", message_zh=f"第 {lineno} 行不是 ASCII")
        return _json_line({"line": lineno, **_error_object(str(lineno), err, lang)}), EXIT_ERROR
    if not payload.startswith(_PREFIXES):  # the common case costs one startswith
        from elicense.verify.inputs import looks_like_payload, not_a_licence_qr

        if not looks_like_payload(payload.strip()):  # garbage is an input error, not a forgery (#20)
            return _json_line({"line": lineno, **_error_object(str(lineno), not_a_licence_qr(), lang)}), EXIT_ERROR
    try:
        result = verifier.verify(payload, at=at)  # returns a result whatever the line holds
        # == _json_line({"line": lineno, **result.to_dict(lang)}), in under half the time (tests hold them equal)
        return result.to_json(lang, line=lineno) + "\n", result.status.exit_code
    except Exception as exc:  # one line must never stop the batch (#16): an error line, go on
        failure = (
            exc
            if isinstance(exc, ElicenseError)
            else InputError(
                f"line {lineno} could not be verified ({type(exc).__name__})", message_zh=f"第 {lineno} 行无法校验"
            )
        )
        return _json_line({"line": lineno, **_error_object(str(lineno), failure, lang)}), EXIT_ERROR


def _batch_file(verifier: Verifier, lineno: int, name: str, at: dt.datetime | None, lang: str) -> tuple[str, int]:
    """A batch line naming a file: its (first) result as the line's JSON, or the error object."""
    from elicense.verify.inputs import verify_bytes

    try:
        results = verify_bytes(verifier, read_verify_input(name), at=at, source=Path(name))
    except ElicenseError as exc:
        return _json_line({"line": lineno, **_error_object(name, exc, lang)}), EXIT_ERROR
    result = max(results, key=lambda x: x.status.severity)
    return result.to_json(lang, line=lineno) + "\n", result.status.exit_code


BATCH_CHUNK = 256
"""Lines per task sent to a worker process."""
_WORKER: tuple[Verifier, dt.datetime | None, str] | None = None
"""The worker process's verifier, time and language (inherited on fork, rebuilt on spawn)."""
_PRESENTATION = b"EP1:"


def _worker_init(spawned: tuple[VerifyOptions, dt.datetime | None, str] | None) -> None:
    global _WORKER
    if _WORKER is None and spawned is not None:  # spawn: rebuild from the same options
        options, at, lang = spawned
        _WORKER = (_load(options), at, lang)


def _worker_chunk(items: list[_Item]) -> list[tuple[str, int] | None]:
    assert _WORKER is not None
    verifier, at, lang = _WORKER
    return [_batch_line(verifier, item[0], item[2], at, lang) if item[1] == "payload" else None for item in items]


def _batch_parallel(
    verifier: Verifier, stream: IO[bytes], at: dt.datetime | None, lang: str, options: VerifyOptions
) -> int:
    """``--workers N``: chunks of lines verified in N processes, written in input order.

    Presentations (``EP1:``) are verified here, in input order, by this process's
    verifier: its replay cache must see every presentation of the batch, as with one
    worker. Output is byte-for-byte that of ``--workers 1``.
    """
    import multiprocessing  # only for --workers: its import costs more than a verification

    global _WORKER
    workers = options.workers
    spawned: tuple[VerifyOptions, dt.datetime | None, str] | None = None
    ctx: multiprocessing.context.BaseContext
    if "fork" in multiprocessing.get_all_start_methods():  # the loaded verifier is inherited: no second trust load
        ctx = multiprocessing.get_context("fork")
        _WORKER = (verifier, at, lang)
    else:  # platforms without fork (tests: test_spawn_workers_rebuild_the_verifier)
        ctx = multiprocessing.get_context("spawn")
        spawned = (options, at, lang)
    code = 0
    write = sys.stdout.write
    items = _batch_items(stream, lang)
    try:
        with ctx.Pool(workers, initializer=_worker_init, initargs=(spawned,)) as pool:
            pending: deque[tuple[list[_Item], AsyncResult[list[tuple[str, int] | None]]]] = deque()

            def flush() -> None:
                nonlocal code
                chunk, async_result = pending.popleft()
                for item, done in zip(chunk, async_result.get(), strict=True):
                    if item[1] == "error":
                        write(item[2])
                        code = _worse(code, EXIT_ERROR)
                        continue
                    line, exit_code = done if done is not None else _batch_line(verifier, item[0], item[2], at, lang)
                    write(line)
                    code = _worse(code, exit_code)

            while chunk := list(itertools.islice(items, BATCH_CHUNK)):
                remote: list[_Item] = [
                    (item[0], "local", item[2]) if item[1] == "payload" and item[2].startswith(_PRESENTATION) else item
                    for item in chunk
                ]
                pending.append((chunk, pool.apply_async(_worker_chunk, (remote,))))
                if len(pending) >= 4 * workers:  # bounded read-ahead: memory stays flat on huge inputs
                    flush()
            while pending:
                flush()
    finally:
        _WORKER = None
    return code
