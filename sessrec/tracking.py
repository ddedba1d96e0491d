"""Optional experiment tracking: each finished run of a study logged to MLflow.

Install the extra (``pip install -e ".[mlflow]"``). :class:`MlflowTracker` logs a run record
(as the runner writes it to ``results.jsonl``): its hyperparameters as MLflow params, its
test metrics, its per-epoch training history as metric steps, and optionally the study's
report as an artifact. MLflow metric names allow no ``@``: ``recall@20`` is logged as
``recall_at_20``.

Examples
--------
>>> tracker = MlflowTracker()  # doctest: +SKIP
>>> tracker.log_run(record, report_path="reports/synthetic/report.md")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sessrec.errors import ConfigError

__all__ = ["MlflowTracker", "mlflow_name"]

_RECORD_TAGS = ("run_id", "model", "dataset", "seed", "fingerprint", "ties")


def mlflow_name(name: str) -> str:
    """A metric name MLflow accepts: ``recall@20`` -> ``recall_at_20``; other odd characters -> ``_``."""
    return re.sub(r"[^\w.\- /:]", "_", name.replace("@", "_at_"))


def _param_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


class MlflowTracker:
    """Log sessrec runs to an MLflow tracking store.

    Parameters
    ----------
    uri : str, optional
        MLflow tracking URI (``http://host:5000``, ``sqlite:///mlflow.db``, ``file:///path``).
        Default: a local file store ``./mlruns``. MLflow 3 keeps its file store in maintenance
        mode and refuses it unless ``MLFLOW_ALLOW_FILE_STORE`` is set: for a file URI the
        tracker sets it to ``true`` when it is unset (give a database or server URI for
        MLflow's newer features).
    experiment : str, default "sessrec"
        Experiment the runs go to (created when missing).

    Raises
    ------
    ConfigError
        MLflow is not installed.
    """

    def __init__(self, uri: str | None = None, experiment: str = "sessrec") -> None:
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise ConfigError('MLflow tracking needs the mlflow extra: pip install -e ".[mlflow]"') from None
        self.uri = uri if uri is not None else Path("mlruns").resolve().as_uri()
        if self.uri.startswith("file:") or "://" not in self.uri:
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.experiment = experiment
        self.client = MlflowClient(tracking_uri=self.uri)
        found = self.client.get_experiment_by_name(experiment)
        self.experiment_id = found.experiment_id if found is not None else self.client.create_experiment(experiment)

    def log_run(
        self,
        record: Mapping[str, Any],
        history: Iterable[Mapping[str, float]] | None = None,
        report_path: str | os.PathLike[str] | None = None,
    ) -> str:
        """Log one run record; return the MLflow run id.

        Parameters
        ----------
        record : mapping
            A run record (``run_id``, ``model``, ``params``, ``dataset``, ``protocol``, ``seed``,
            ``metrics``, ...).
        history : iterable of mapping, optional
            Per-epoch values (``epoch``, ``loss``, ``valid_recall@20``, ``seconds``, ...);
            default: ``record["history"]``. Each key but ``epoch`` becomes a metric with
            ``step = epoch``.
        report_path : str or PathLike, optional
            A file (``report.md``) to attach as an artifact.
        """
        from mlflow.entities import Metric, Param, RunTag

        tags = [RunTag(f"sessrec.{key}", str(record[key])) for key in _RECORD_TAGS if key in record]
        run = self.client.create_run(self.experiment_id, run_name=f"{record.get('model')}-{record.get('run_id')}")
        now = int(time.time() * 1000)
        params = [Param(key, _param_value(value)) for key, value in sorted(dict(record.get("params") or {}).items())]
        params += [Param(f"sessrec.{k}", _param_value(record[k])) for k in ("protocol", "cutoffs") if k in record]
        metrics = [Metric(mlflow_name(k), float(v), now, 0) for k, v in sorted(record.get("metrics", {}).items())]
        epochs = list(history if history is not None else record.get("history") or [])
        for row in epochs:
            step = int(row.get("epoch", 0))
            metrics += [Metric(mlflow_name(k), float(v), now, step) for k, v in row.items() if k != "epoch"]
        self.client.log_batch(run.info.run_id, metrics=metrics, params=params, tags=tags)
        if report_path is not None:
            self.client.log_artifact(run.info.run_id, str(report_path))
        self.client.set_terminated(run.info.run_id)
        return run.info.run_id
