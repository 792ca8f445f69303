"""What notebooks call to show results: tables, figures and claims with verdicts.

- :mod:`~segrepro.report.tables`: :func:`select`, :func:`summarise` (mean and 95 % interval over seeds),
  :func:`pivot_transfer_table`, :func:`cost_table`, :func:`with_paper_values`, :func:`paper_name`.
- :mod:`~segrepro.report.transfer`: method comparisons on a transfer grid (the transfer studies).
- :mod:`~segrepro.report.plots`: the figures.
- :mod:`~segrepro.report.claims`: the verdict rule, every study's claims table and its glue.
"""
from segrepro.report.claims import Verdict, claim_row, claims_table, mean_ci, verdict, verdict_glue
from segrepro.report.tables import (cost_table, paper_name, pivot_transfer_table, select, summarise,
                                    with_paper_values)

__all__ = ["Verdict", "claim_row", "claims_table", "cost_table", "mean_ci", "paper_name", "pivot_transfer_table",
           "select", "summarise", "verdict", "verdict_glue", "with_paper_values"]
