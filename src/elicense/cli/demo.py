"""``elicense demo OUTDIR``: build a complete demo world offline, then verify it."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import click

from elicense.cli.common import default_lang
from elicense.errors import UsageError


def _prepare(outdir: Path, force: bool) -> None:
    if outdir.exists() and not outdir.is_dir():
        raise UsageError(f"{outdir} exists and is not a directory", message_zh=f"{outdir} 已存在且不是目录")
    if outdir.is_dir() and any(outdir.iterdir()):
        if not force:
            raise UsageError(
                f"{outdir} is not empty (use --force to replace its contents)",
                message_zh=f"{outdir} 非空（使用 --force 覆盖）",
            )
        if (outdir / "home.json").exists() or (outdir / "trust-bundle.json").exists():
            shutil.rmtree(outdir)
        else:
            raise UsageError(f"refusing to wipe {outdir}: it does not look like an elicense demo directory")


@click.command("demo")
@click.argument("outdir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--force", is_flag=True, help="Replace an existing demo in OUTDIR.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default=None, help="Message language.")
@click.option("--json", "as_json", is_flag=True, help="Print the verification table as JSON lines.")
@click.option(
    "--alg",
    "alg",
    type=click.Choice(["es256", "sm2"], case_sensitive=False),
    default="es256",
    show_default=True,
    help="Signature suite of the whole world (sm2: SM2/SM3 PKI, lists, bundle, QR).",
)
def demo_cmd(outdir: Path, force: bool, lang: str | None, as_json: bool, alg: str = "es256") -> int:
    """Build a demo world in OUTDIR (keys, trust data, licences, QR codes) and verify it."""
    from elicense.demo import build_demo
    from elicense.verify.inputs import verify_bytes
    from elicense.verify.verifier import Verifier

    lang = lang or default_lang()
    _prepare(outdir, force)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    from elicense.crypto.algorithms import Algorithm

    algorithm = Algorithm.from_label(alg)
    world = build_demo(outdir, now=now, algorithm=algorithm)
    allowed = [algorithm] if algorithm is Algorithm.SM2 else None  # the ES256 demo keeps the default policy
    verifier = Verifier.from_trust_file(world.trust_file, algorithms=allowed)
    rows: list[dict[str, Any]] = []
    worst_unexpected = 0
    for name in world.issued:
        png = outdir / "licences" / f"{name}.qr.png"
        txt = outdir / "licences" / f"{name}.qr.txt"
        res_txt = verify_bytes(verifier, txt.read_bytes())[0]
        res_png = verify_bytes(verifier, png.read_bytes())[0]
        pdf_file = outdir / "licences" / f"{name}.pdf"
        res_pdf = verify_bytes(verifier, pdf_file.read_bytes())[0] if pdf_file.exists() else None
        ses_file = outdir / "licences" / f"{name}.qr.txt.ses"  # SM2 world: GB/T 38540 seal over the payload
        res_seal = verify_bytes(verifier, ses_file.read_bytes(), source=ses_file)[0] if ses_file.exists() else None
        expected = "INVALID" if any(w in name for w in ("revoked", "suspended", "expired", "superseded")) else "VALID"
        ok = res_txt.status.value == expected and res_png.status.value == expected
        ok = ok and (res_pdf is None or res_pdf.status.value == expected)
        ok = ok and (res_seal is None or res_seal.status.value == expected)
        worst_unexpected |= 0 if ok else 1
        rows.append(
            {
                "name": name,
                "type": res_txt.to_dict(lang)["licence"]["type_name"] if res_txt.licence else None,
                "qr_version": world.qr_versions[name],
                "text": res_txt.status.value,
                "image": res_png.status.value,
                "pdf": res_pdf.status.value if res_pdf is not None else None,
                "seal": res_seal.status.value if res_seal is not None else None,
                "reasons": [r.code for r in res_txt.reasons],
                "expected": expected,
            }
        )
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
    else:
        zh = lang == "zh"
        click.echo(("演示环境已生成：" if zh else "demo world written to ") + str(outdir))
        click.echo(("  信任数据：" if zh else "  trust bundle: ") + str(world.trust_file))
        click.echo(("  签发目录（--home）：" if zh else "  issuer home (--home): ") + str(outdir))
        click.echo("")
        third = "seal" if algorithm is Algorithm.SM2 else "pdf"
        if zh:  # the same columns; the Chinese labels are two columns wide each
            labels = {"VALID": "有效", "INVALID": "无效", "INDETERMINATE": "无法确认"}
            last = "印章" if third == "seal" else "PDF"
            header = f"{'样例':<38} {'二维码':>1} {'载荷文本':<10} {'图像':<12} {last:<14} 原因"
            click.echo(header)
            click.echo("-" * 98)
            for row in rows:
                cells = [labels.get(str(row[k]), str(row[k] or "-")) for k in ("text", "image")]
                cells.append(labels.get(str(row["pdf"] or row["seal"]), "-"))
                click.echo(
                    f"{row['name']:<40} {'v' + str(row['qr_version']):>4} {cells[0]:<12} {cells[1]:<12} "
                    f"{cells[2]:<12} {', '.join(row['reasons']) or '-'}"
                )
        else:
            header = f"{'sample':<40} {'QR':>4} {'text':<14} {'image':<14} {third:<14} reasons"
            click.echo(header)
            click.echo("-" * len(header))
            for row in rows:
                click.echo(
                    f"{row['name']:<40} {'v' + str(row['qr_version']):>4} {row['text']:<14} "
                    f"{row['image']:<14} {row['pdf'] or row['seal'] or '-':<14} {', '.join(row['reasons']) or '-'}"
                )
        click.echo("")
        allow = " --allow-alg SM2" if algorithm is Algorithm.SM2 else ""
        click.echo(
            ("试一试：" if zh else "try: ")
            + f"elicense verify {outdir / 'licences' / 'business-licence-jinan.qr.png'} --trust {world.trust_file}"
            + allow
        )
        if algorithm is Algorithm.SM2 and (outdir / "licences" / "business-licence-jinan.ofd").exists():
            click.echo(
                f"     elicense verify {outdir / 'licences' / 'business-licence-jinan.ofd'} "
                f"--trust {world.trust_file}{allow}   # the sealed OFD licence file"
            )
    return 0 if worst_unexpected == 0 else 1
