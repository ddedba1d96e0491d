"""A study as a pandas DataFrame, for notebooks: :func:`load_study`.

The rest of the notebook API lives where it is implemented and is exported by :mod:`sessrec`:
:func:`~sessrec.data.prepare`, :func:`~sessrec.registry.make_model`,
:func:`~sessrec.evaluation.evaluate`, :func:`~sessrec.runner.run_study` with
:class:`~sessrec.runner.RunSpec`, :func:`~sessrec.reporting.write_report`, and
:func:`~sessrec.models.saving.save_model` / :func:`~sessrec.models.saving.load_model`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from sessrec.errors import SessrecError

__all__ = ["STUDY_COLUMNS", "load_study"]

STUDY_COLUMNS = ("run_id", "model", "params", "seed", "dataset", "protocol", "metric", "value")


def _rows(record: dict[str, Any]) -> list[tuple[Any, ...]]:
    """One row per metric of a run record."""
    protocol = record.get("protocol")
    protocol_name = protocol.get("name") if isinstance(protocol, dict) else protocol
    params = json.dumps(record.get("params") or {}, sort_keys=True)
    head = (record["run_id"], record["model"], params, record.get("seed"), record.get("dataset"), protocol_name)
    return [(*head, metric, float(value)) for metric, value in sorted(record["metrics"].items())]


def load_study(study_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """The study in ``study_dir`` as a tidy DataFrame: one row per run and metric.

    Parameters
    ----------
    study_dir : str or PathLike
        A study folder (with ``results.jsonl``), as written by ``sessrec run`` or
        :func:`sessrec.run_study`.

    Returns
    -------
    pandas.DataFrame
        Columns ``run_id``, ``model``, ``params`` (the hyperparameters as canonical JSON:
        sorted keys, so equal settings compare equal), ``seed``, ``dataset``, ``protocol``
        (its name), ``metric`` (e.g. ``"recall@20"``) and ``value`` (a fraction, not percent).
        Lines of ``results.jsonl`` that cannot be read (a run cut off while writing) are
        left out; their line numbers are in ``df.attrs["skipped_lines"]``.

    Raises
    ------
    SessrecError
        ``study_dir`` holds no ``results.jsonl``.

    Examples
    --------
    >>> df = load_study("reports/my-study")  # doctest: +SKIP
    >>> df.pivot_table(index="model", columns="metric", values="value")  # doctest: +SKIP
    """
    path = Path(study_dir) / "results.jsonl"
    if not path.is_file():
        raise SessrecError(f"no study in {study_dir}: expected {path}; run `sessrec run` or sessrec.run_study first")
    rows: list[tuple[Any, ...]] = []
    skipped: list[int] = []
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                rows.extend(_rows(json.loads(line)))
            except (ValueError, KeyError, TypeError, AttributeError):
                skipped.append(number)
    frame = pd.DataFrame(rows, columns=list(STUDY_COLUMNS))
    frame.attrs["skipped_lines"] = skipped
    return frame
