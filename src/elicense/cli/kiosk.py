"""``elicense kiosk``: serve the self-service verification page on this machine."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from elicense.errors import UsageError

if TYPE_CHECKING:
    from elicense.verify.verifier import Verifier


@click.command("kiosk")
@click.option("--trust", metavar="BUNDLE", help="Trust bundle/file (default: $ELICENSE_TRUST); re-read when replaced.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="Port (0: any free).")
@click.option("--region", metavar="CODE", help="Verify as a relying party of this region (its recognition agreements).")
@click.option("--accept-region", metavar="CODE[,CODE]", help="Accept only licences issued in these regions.")
@click.option("--log", "log_requests", is_flag=True, help="Log each request on stderr.")
@click.option(
    "--state",
    "state_dir",
    metavar="DIR",
    default=None,
    help="Verifier state directory: pinned root, highest bundle and status-list sequences "
    "(default: $ELICENSE_STATE, else $XDG_STATE_HOME/elicense/kiosk/<hash of the trust path>).",
)
def kiosk_cmd(
    trust: str | None,
    host: str,
    port: int,
    region: str | None,
    accept_region: str | None,
    log_requests: bool,
    state_dir: str | None = None,
) -> int:
    """Serve the kiosk page (camera or upload → 有效 / 无效 / 无法确认) until interrupted.

    Open http://HOST:PORT/ in a browser on the kiosk. Everything is local: no internet
    is needed or used. The kiosk always keeps a verifier state (``--state``): a bundle under
    another root than the pinned one, or older than one seen, is refused, also after a restart.
    """
    from elicense.cli.verify import load_verifier
    from elicense.kiosk.server import LOOPBACK_HOSTS, make_app, serve

    path = trust or os.environ.get("ELICENSE_TRUST")
    if not path:
        raise UsageError(
            "no trust data: pass --trust BUNDLE or set ELICENSE_TRUST",
            message_zh="未提供信任数据：请使用 --trust 或设置 ELICENSE_TRUST",
        )
    from elicense.status.state import kiosk_state_dir

    state = str(kiosk_state_dir(path, state_dir))
    verifier = load_verifier(path, region=region, accept_region=accept_region, state=state)

    def loader(bundle: Path) -> Verifier:
        return load_verifier(str(bundle), region=region, accept_region=accept_region, state=state)

    loopback = host in ("127.0.0.1", "localhost", "::1")
    app = make_app(verifier, bundle_path=Path(path), loader=loader, allowed_hosts=LOOPBACK_HOSTS if loopback else None)

    def ready(server: object) -> None:
        bound = getattr(server, "server_port", port)
        shown = "localhost" if host in ("127.0.0.1", "::1") else host
        click.echo(f"elicense kiosk: http://{shown}:{bound}/  (trust {path}; state {state}; Ctrl-C to stop)", err=True)

    try:
        serve(app, host=host, port=port, quiet=not log_requests, ready=ready)
    except KeyboardInterrupt:
        click.echo("elicense kiosk: stopped", err=True)
    except OSError as exc:  # one line naming the address: "Address already in use" alone says not which (#20)
        import errno

        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"port {port} on {host} is already in use (another kiosk running?): stop it or pass --port N",
                message_zh=f"{host} 的端口 {port} 已被占用（是否已有终端在运行？）：请先停止它或使用 --port 换一个端口",
            ) from exc
        raise UsageError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            message_zh=f"无法在 {host}:{port} 上监听：{exc.strerror or exc}",
        ) from exc
    return 0
