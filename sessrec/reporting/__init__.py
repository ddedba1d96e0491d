"""The reporter: a study folder in, ``report.md`` + ``figures/*.png`` (+ LaTeX/CSV/JSON tables) out.

>>> from sessrec.reporting import write_report
>>> result = write_report("reports/my-study", formats=("latex",))  # doctest: +SKIP
"""

from sessrec.reporting.report import FORMATS, ReportResult, ReportSettings, analyse, write_report

__all__ = ["FORMATS", "ReportResult", "ReportSettings", "analyse", "write_report"]
