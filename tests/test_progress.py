"""Progress events: inside every epoch of every neural model, validation and test passes apart, views."""

import io
import logging
import math

import pytest
from rich.console import Console

from sessrec.data import prepare
from sessrec.models import TorchModel
from sessrec.progress import EpochProgress, emit, phase, progress_callback, show_progress
from sessrec.progress_view import LogView, RichView
from sessrec.registry import load_model, model_names

TORCH_MODELS = [n for n in model_names() if isinstance(load_model(n), type) and issubclass(load_model(n), TorchModel)]


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    return prepare("synthetic", data_root=root, n_sessions=400, n_items=80, valid_days=1, cache=False)


def _events(fn):
    seen = []
    with progress_callback(lambda kind, info: seen.append((kind, dict(info)))):
        fn()
    return seen


@pytest.mark.parametrize("name", TORCH_MODELS)
def test_every_epoch_reports_its_batches_up_to_its_total_then_validation(name, split):
    cls = load_model(name)
    params = {**cls.test_params, "epochs": 2}
    if "patience" in params:
        params["patience"] = None
    seen = _events(lambda: cls(**params).fit(split.train, valid=split.valid))
    kinds = [k for k, _ in seen]
    starts = [i for i, k in enumerate(kinds) if k == "epoch_start"]
    ends = [i for i, k in enumerate(kinds) if k == "epoch"]
    assert len(starts) == len(ends) == 2 and starts[0] < ends[0] < starts[1] < ends[1]
    for start, end in zip(starts, ends):
        batches = [info for kind, info in seen[start:end] if kind == "batch"]
        assert batches, f"{name}: no progress inside the epoch"
        assert batches[-1]["done"] == batches[-1]["total"] > 0  # the epoch's work, counted to its end
        assert all(b["done"] <= b["total"] for b in batches)
        assert math.isfinite(batches[-1]["loss"])
        valid = [info for kind, info in seen[start:end] if kind == "eval"]
        assert valid and all(v.get("phase") == "validation" for v in valid)
        assert valid[-1]["done"] == valid[-1]["total"] > 0
    assert kinds[-1] == "fit" and seen[-1][1]["best_epoch"] in (1, 2)


def test_test_pass_and_validation_pass_have_their_own_totals(split, tmp_path):
    from sessrec.runner import RunSpec, run_study

    spec = RunSpec(
        "narm",
        params={"epochs": 1, "hidden_size": 8, "embedding_dim": 8},
        dataset="synthetic",
        dataset_options={"n_sessions": 400, "n_items": 80},
        valid_days=1,
    )
    seen = _events(lambda: run_study([spec], tmp_path / "study", data_root=tmp_path / "data"))
    totals = {}
    for kind, info in seen:
        if kind == "eval":
            totals.setdefault(info.get("phase"), set()).add(info["total"])
    assert set(totals) == {"validation", "test"}
    assert totals["validation"] == {split.valid.n_cases} and totals["test"] == {split.test.n_cases}
    assert split.valid.n_cases != split.test.n_cases


def test_epoch_progress_reports_at_most_every_interval_and_always_the_end():
    seen = []
    with progress_callback(lambda kind, info: seen.append(info)):
        progress = EpochProgress(10, interval=3600)
        for _ in range(5):
            progress.step(2, 1.5)
    assert [(i["done"], i["batch"], i["loss"]) for i in seen] == [(10, 5, 1.5)]


def test_phase_tags_events_and_a_callback_of_none_silences(capsys):
    seen = []
    with progress_callback(lambda kind, info: seen.append(info)):
        with phase("validation"):
            emit("eval", done=1, total=2)
        emit("eval", done=2, total=2)
    assert seen == [{"done": 1, "total": 2, "phase": "validation"}, {"done": 2, "total": 2}]
    show_progress(True)
    try:
        with progress_callback(None):
            emit("eval", done=1, total=2)  # silenced: no view is made, nothing is printed
    finally:
        show_progress(None)
    assert capsys.readouterr().out == ""


def test_log_view_writes_one_line_per_epoch_and_per_finished_run():
    stream = io.StringIO()
    logger = logging.getLogger("sessrec.test-log-view")
    logger.addHandler(logging.StreamHandler(stream))
    logger.setLevel(logging.INFO)
    view = LogView(logger)
    view.on_event("epoch_start", {"model": "NARM", "epoch": 1, "epochs": 3})
    view.on_event(
        "epoch", {"model": "NARM", "epoch": 1, "epochs": 3, "loss": 5.25, "valid_recall@20": 0.125, "seconds": 2.0}
    )
    record = {"metrics": {"recall@20": 0.5, "mrr@20": 0.25}, "fit_seconds": 3.0, "eval_seconds": 1.0}
    view.on_event("run", {"model": "narm", "seed": 0, "state": "finished", "record": record})
    assert stream.getvalue().splitlines() == [
        "NARM epoch 1/3: loss 5.2500 valid_recall@20 0.1250 (2.0 s)",
        "finished narm (seed 0): recall@20 0.5000  mrr@20 0.2500  fit 3.0s  eval 1.0s",
    ]


def test_rich_view_sizes_each_evaluation_bar_for_its_split():
    view = RichView(Console(file=io.StringIO(), width=120), live=False)
    view.on_event("eval", {"done": 0, "total": 5899, "phase": "validation"})
    view.on_event("eval", {"done": 100, "total": 5899, "phase": "validation"})
    view.on_event("eval", {"done": 5899, "total": 5899, "phase": "validation"})
    assert "eval:validation" not in view.tasks  # a finished pass leaves no bar behind
    view.on_event("eval", {"done": 0, "total": 4804, "phase": "test"})
    view.on_event("eval", {"done": 1000, "total": 4804, "phase": "test"})
    task = next(t for t in view.progress.tasks if t.id == view.tasks["eval:test"])
    assert (task.completed, task.total, task.description) == (1000, 4804, "  testing")
