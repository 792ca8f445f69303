"""Verdicts on SegTrans's claims (``st_*``; the abstract gives two numbers and no definitions)."""
from __future__ import annotations

import pandas as pd

from segrepro.report import transfer as tt
from segrepro.report.claims import claim_row, claims_table, verdict
from segrepro.studies.segtrans.grids import NAME, SEGTRANS, VARIANTS
from segrepro.studies.segtrans.report import best_baseline, cost, efficiency, paired_cost
from segrepro.studies.transegpgd.claims import scale_note


def claims(df: pd.DataFrame, profile) -> pd.DataFrame:
    """The claims table of notebook 03 (``df``: :func:`results`)."""
    note = scale_note(profile)
    best, best_asr = best_baseline(df)
    rows = []
    for variant in VARIANTS:
        k = tt.key(variant)
        v, unit = tt.compare(df, k, best, expect="higher", metric="asr")
        rel = (tt.per_seed(df, k, metric="asr").mean() / best_asr - 1) * 100
        rows.append(claim_row("st_asr_gain", v, f"{variant}: transfer ASR - {tt.label(*best)} (best baseline), in "
                              f"points; relative gain {rel:+.1f} %; interval over {unit}; {note}"))
    s_sec, b_sec, _ = paired_cost(df, SEGTRANS, tt.key("bim"))
    s_pass = sum(cost(df, SEGTRANS, m)["value"].mean() for m in ("forward_passes_per_example",
                                                                   "backward_passes_per_example"))
    b_pass = sum(cost(df, tt.key("bim"), m)["value"].mean() for m in ("forward_passes_per_example",
                                                                        "backward_passes_per_example"))
    rows.append(claim_row("st_no_overhead", verdict([s / b for s, b in zip(s_sec, b_sec)], expect="lower",
                                                    reference=1.2),
                          f"seconds per example segtrans / bim (passes ratio {s_pass / b_pass:.2f}); {note}"))
    eff = efficiency(df, profile)
    readings = (("time_ratio", 2.0, "seconds per example of {b} / of segtrans (claims.csv reading, >= 2)"),
                ("asr_per_second", 100.0, "ours: transfer ASR per second of segtrans vs {b}, gain in % (> 100)"),
                ("iterations", 100.0, "ours: T / iterations segtrans needs to reach {b}'s ASR at T, gain in % (> 100)"))
    for name, ref, text in readings:
        rows.append(claim_row("st_efficiency", verdict(eff[name], expect="higher", reference=ref),
                              f"{text.format(b=eff['best'])}; {note}"))
    return claims_table(rows, study=NAME, eps=profile.side_eps)
