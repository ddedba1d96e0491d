"""``--protocol window`` end to end: one run per slice, a report with per-slice and mean values."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner

from sessrec.cli import main


def test_window_study_reports_every_slice_and_their_mean(tmp_path):
    out = tmp_path / "study"
    args = [
        "run",
        "--models",
        "pop,vsknn,stan",
        "--dataset",
        "synthetic",
        "--protocol",
        "window",
        "-o",
        "n_sessions=1500",
        "-o",
        "n_items=80",
        "--out",
        str(out),
        "--data-dir",
        str(tmp_path),
        "--quiet",
    ]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    slices = sorted({r["protocol"]["params"]["slice"] for r in records})
    assert slices == [0, 1, 2] and len(records) == 9  # synthetic's window: 3 slices x 3 models, one seed
    report = (out / "report.md").read_text()
    assert "## Sliding window: synthetic, mean over 3 slices" in report
    window_part = report.split("## Sliding window: synthetic", 1)[1]
    for model in ("pop", "vsknn", "stan"):
        row = next(line for line in window_part.splitlines() if line.startswith(f"| {model} |"))
        by_slice = {r["protocol"]["params"]["slice"]: r["metrics"] for r in records if r["model"] == model}
        expected = [f"{100 * by_slice[s]['recall@20']:.2f} / {100 * by_slice[s]['mrr@20']:.2f}" for s in slices]
        mean_r = sum(by_slice[s]["recall@20"] for s in slices) / 3
        mean_m = sum(by_slice[s]["mrr@20"] for s in slices) / 3
        cells = [c.strip() for c in row.strip("|").split("|")][1:]
        assert cells[:3] == expected
        assert cells[3] == f"**{100 * mean_r:.2f} / {100 * mean_m:.2f}**"
    assert re.search(r"^## synthetic", report, re.M)  # each slice keeps its own full section too
