"""What notebooks call to show results: tables, figures and claims with verdicts.

- :mod:`~segrepro.report.tables`: :func:`select`, :func:`summarise` (mean and 95 % interval over seeds),
  :func:`pivot_transfer_table`, :func:`cost_table`, :func:`with_paper_values`, :func:`paper_name`.
- :mod:`~segrepro.report.transfer`: method comparisons on a transfer grid (the transfer studies).
- :mod:`~segrepro.report.plots`: the figures.
- :mod:`~segrepro.report.verdicts`, :mod:`~segrepro.report.outcomes`, :mod:`~segrepro.report.evidence`: claims,
  their bootstrap intervals over images and the four outcomes; :mod:`~segrepro.report.present`: how the book shows them.
"""
from segrepro.report.tables import (cost_table, mean_ci, paper_name, pivot_transfer_table, seed_range, select,
                                    summarise, with_paper_values)

__all__ = ["cost_table", "mean_ci", "paper_name", "pivot_transfer_table", "seed_range", "select", "summarise",
           "with_paper_values"]
