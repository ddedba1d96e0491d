"""NARM's named presets say what they reproduce; the defaults are one of them (issue 11)."""

from __future__ import annotations

import pytest
from sessrec_baselines.narm import NARM

from sessrec import Sessions
from sessrec.models import validate_params
from sessrec.progress import progress_callback

# The NARM paper (section 4.3.2) and the authors' code, as REFERENCES.md records them.
PAPER = {
    "embedding_dim": 50,
    "hidden_size": 100,
    "lr": 0.001,
    "batch_size": 512,
    "emb_dropout": 0.25,
    "ct_dropout": 0.5,
    "epochs": 30,
    "max_len": 19,
    "truncate": "first",
}
AUTHORS_CODE = {
    "attention_norm": "softmax",  # masked softmax over the attention scores
    "attention_activation": "hard_sigmoid",
    "init": "authors",
    "gru": "authors",
    "training": "prefixes",  # mini-batches of random cases
    "dropout_scaling": "test",
    "valid_split": "random_cases",  # 10% random validation, best epoch by Recall@20
    "valid_fraction": 0.1,
    "valid_cutoff": 20,
}
RECBOLE = {
    "attention_norm": "none",
    "attention_activation": "sigmoid",
    "init": "xavier",
    "gru": "torch",
    "dropout_scaling": "train",
    "valid_split": None,
}


def test_presets_are_shipped():
    assert NARM.param_set_names() == ["authors", "recbole"]


def test_authors_preset_is_everything_the_authors_code_does():
    assert NARM.named_params("authors") == {**PAPER, **AUTHORS_CODE}
    info = NARM.param_set_info("authors")
    assert info["reproduces"] == "authors' code"
    assert info["same_setup_as_published"] is True
    assert info["repository"] == "lijingsdu/sessionRec_NARM"


def test_recbole_preset_is_recboles_formulation_and_not_the_published_setup():
    params = NARM.named_params("recbole")
    assert {k: params[k] for k in RECBOLE} == RECBOLE
    assert {k: params[k] for k in PAPER} == PAPER
    info = NARM.param_set_info("recbole")
    assert info["reproduces"] == "RecBole"
    assert info["same_setup_as_published"] is False


def test_the_defaults_are_the_recbole_preset():
    defaults = NARM().get_params()
    assert {k: defaults[k] for k in NARM.named_params("recbole")} == NARM.named_params("recbole")
    assert NARM.param_set_of({}) == "recbole"


@pytest.mark.parametrize("name", ["authors", "recbole"])
def test_a_run_is_traced_back_to_its_preset(name):
    params = NARM.named_params(name)
    assert validate_params(NARM, params, model_name="narm") == params
    assert NARM.param_set_of({**params, "random_state": 3, "device": "cpu"}) == name
    assert NARM.param_set_of({**params, "lr": 0.01}) is None
    assert NARM.from_paramfile(name, epochs=2).get_params() == {**NARM().get_params(), **params, "epochs": 2}


def test_short_training_warns_of_the_slow_start():
    train = Sessions.from_lists([[0, 1, 2, 3], [1, 2, 3, 0]] * 10, n_items=4)
    notes: list[dict] = []

    def record(kind: str, info: dict) -> None:
        if kind == "note":
            notes.append(info)

    with progress_callback(record):
        NARM(embedding_dim=4, hidden_size=4, epochs=2, device="cpu", random_state=0).fit(train)
    assert len(notes) == 1 and notes[0]["model"] == "NARM" and "30 epochs" in notes[0]["text"]
    with progress_callback(record):
        NARM(embedding_dim=4, hidden_size=4, epochs=10, device="cpu", random_state=0).fit(train)
    assert len(notes) == 1
