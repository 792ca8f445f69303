"""Model names of a profile: a zoo name (``psp_r18``) or an adversarially trained variant
``"<arch>@<ATTACK><T>-AT"`` after the papers' naming (``psp_r18@PGD3-AT``, ``psp_r18@RP-PGD3-AT``).

Kept apart from ``segrepro.run.zoo`` so that profile validation can read names without the zoo.
"""
from __future__ import annotations

import re

#: Paper names of the training attacks -> ``segrepro.attacks`` method names.
AT_ATTACKS = {"PGD": "pgd", "SegPGD": "segpgd", "CosPGD": "cospgd", "RP-PGD": "rp_pgd"}
_AT_RE = re.compile(r"^(?P<arch>[A-Za-z0-9_]+)@(?P<attack>PGD|SegPGD|CosPGD|RP-PGD)(?P<steps>\d+)-AT$")


def parse_name(name: str) -> tuple[str, str | None, int | None]:
    """Split a model name into ``(architecture, training attack or None, training steps or None)``.

    Raises:
        ValueError: A name with ``@`` that is not ``<arch>@<ATTACK><T>-AT`` (lists the valid attacks).
    """
    if "@" not in name:
        return name, None, None
    m = _AT_RE.match(name)
    if not m:
        raise ValueError(f"adversarially trained model {name!r} must read '<arch>@<ATTACK><T>-AT' with ATTACK "
                         f"in {sorted(AT_ATTACKS)}, e.g. 'psp_r18@PGD3-AT'")
    return m["arch"], AT_ATTACKS[m["attack"]], int(m["steps"])
