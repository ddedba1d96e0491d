"""The report's view of tuned parameter sets: read as untrusted files, labelled per row."""

from __future__ import annotations

from sessrec.reporting.tuning import budget_warning, param_source, plot_histories, read_tuned_sets

GOOD = """
model = "fpmc"
objective = "mrr@20"
best_value = 0.1875
trials_complete = 28
trials_pruned = 2
trials_failed = 1
seconds = 12.5
valid_days = 1.0
history_trial = [0, 1, 3]
history_value = [0.1, 0.1875, 0.15]
[params]
lr = 0.05
"""


def _write(root, dataset, model, text):
    path = root / "tuned" / dataset / f"{model}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_reads_good_files_and_leaves_out_bad_ones_with_a_note(tmp_path):
    _write(tmp_path, "digi", "fpmc", GOOD)
    _write(tmp_path, "digi", "iknn", GOOD)  # says model = "fpmc": does not match its name
    _write(tmp_path, "digi", "bprmf", GOOD.replace("0.1875", "inf"))
    _write(tmp_path, "digi", "narm", "[[[")
    sets, notes = read_tuned_sets(tmp_path)
    assert [(t.dataset, t.model, t.best_value, t.trials_complete) for t in sets] == [("digi", "fpmc", 0.1875, 28)]
    assert sets[0].params == {"lr": 0.05} and sets[0].history_trial == (0, 1, 3)
    assert len(notes) == 3 and all("left out" in n for n in notes)


def test_param_source_and_budget_warning(tmp_path):
    _write(tmp_path, "digi", "fpmc", GOOD)
    sets, _ = read_tuned_sets(tmp_path)
    assert param_source("fpmc", "digi", "tuned", {"lr": 0.05}, sets) == (
        "tuned: 28 trials (2 pruned), validation mrr@20 0.1875"
    )
    assert param_source("pop", "digi", None, {}, sets) == "defaults"
    assert param_source("iknn", "digi", None, {"alpha": 0.2}, sets) == "given parameters"
    assert param_source("narm", "digi", "authors", {}, sets) == "parameter set authors"
    sources = {"fpmc": "tuned: …", "pop": "defaults"}
    assert budget_warning(sources, sets) == "Unequal tuning budgets: pop ran without tuning while others were tuned."
    other = sets[0].__class__(**{**sets[0].__dict__, "model": "iknn", "trials_complete": 10})
    assert budget_warning({"fpmc": "tuned", "iknn": "tuned"}, [*sets, other]) == (
        "Unequal tuning budgets (finished trials): fpmc 30, iknn 12."
    )
    assert budget_warning({"fpmc": "tuned"}, sets) is None
    assert plot_histories(sets, tmp_path / "figures").is_file()
