"""One way to name a licence on the command line: its id, its source id, or a demo sample name.

``revoke``, ``suspend``, ``reinstate``, ``supersede``, ``present``, ``render`` and
``registry show`` all resolve their licence argument here, so they accept the
same forms and fail with the same message listing them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from elicense.errors import ElicenseError

if TYPE_CHECKING:
    from elicense.home import Home
    from elicense.registry import Registry

FORMS_EN = "a licence id (1.2.156.3005.2.…), a source id, or a sample name from HOME/licences"
FORMS_ZH = "证照标识（1.2.156.3005.2.…）、来源编号，或 HOME/licences 下的样例名"


class UnknownLicenceRef(ElicenseError):
    """No licence goes by that name (exit 3, with the accepted forms)."""

    code = "unknown_licence"


def resolve_licence(home: Home | Path, ref: str, registry: Registry | None) -> str:
    """The licence id ``ref`` names: an id, a source id (unique), or a sample name in ``HOME/licences``.

    ``registry`` may be ``None`` (a home without one): then only sample names resolve.
    """
    path = home if isinstance(home, Path) else home.path
    text = ref.strip()
    if registry is not None and text:
        if registry.get(text) is not None:
            return text
        try:
            from elicense.identifiers import LicenceId

            canonical = str(LicenceId.parse(text))
            if registry.get(canonical) is not None:
                return canonical
        except ElicenseError:
            pass
        found = registry.query(source_id=text, limit=3)
        if len(found) == 1:
            return str(found[0].id)
        if len(found) > 1:
            ids = ", ".join(str(x.id) for x in found)
            raise UnknownLicenceRef(
                f"source id {text!r} names several licences ({ids}): give the licence id",
                message_zh=f"来源编号 {text!r} 对应多个证照（{ids}），请给出证照标识",
            )
    sample = sample_id(path, text)
    if sample is not None:
        return sample
    samples = sorted(p.name.removesuffix(".cose") for p in (path / "licences").glob("*.cose"))[:3]
    example = f" (e.g. {', '.join(samples)})" if samples else ""
    raise UnknownLicenceRef(
        f"no licence {text!r} in {path}: give {FORMS_EN}{example}; "
        f"'elicense registry list --home {path}' lists ids and source ids",
        message_zh=f"{path} 中没有证照 {text!r}：请给出{FORMS_ZH}；"
        f"'elicense registry list --home {path}' 列出证照标识和来源编号",
    )


def sample_id(home: Path, name: str) -> str | None:
    """The id in ``HOME/licences/<name>.cose`` (a sample the demo or ``issue --out`` wrote), if any."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or len(name) > 200:
        return None
    try:
        data = (home / "licences" / f"{name}.cose").read_bytes()
    except OSError:
        return None
    from elicense.qr import cbor
    from elicense.qr.cose import parse_sign1

    try:
        doc = cbor.loads(parse_sign1(data).payload, max_depth=4)
        return str(doc["id"])
    except (ElicenseError, KeyError, TypeError, ValueError):
        return None
