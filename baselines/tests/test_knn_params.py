"""Named parameter sets and search spaces of the session-kNN models: they load, name real parameters, cite a source."""

from __future__ import annotations

from importlib import resources

import pytest
import tomllib
from sessrec_baselines.session_knn import SFSKNN, SKNN, SSKNN, STAN, VSKNN, VSTAN

from sessrec import Sessions
from sessrec.models import param_names
from sessrec.models.base import BaseModel

MODELS = {"sknn": SKNN, "ssknn": SSKNN, "sfsknn": SFSKNN, "vsknn": VSKNN, "stan": STAN, "vstan": VSTAN}
TRAIN = Sessions.from_lists([[0, 1, 2], [1, 3], [0, 2, 4, 2], [3, 5]], n_items=6)


@pytest.mark.parametrize("name", ["sknn", "vsknn", "stan", "vstan"])
def test_tuned_sets_for_the_three_datasets_fit(name):
    cls = MODELS[name]
    assert cls.param_set_names() == ["diginetica", "retailrocket", "rsc15"]
    for set_name in cls.param_set_names():
        params = cls.named_params(set_name)
        assert set(params) <= set(param_names(cls)), params
        cls(**params).fit(TRAIN)
        path = resources.files("sessrec_baselines") / "paramfiles" / name / f"{set_name}.toml"
        provenance = tomllib.loads(path.read_text())["provenance"]
        assert provenance["repository"] == "rn5l/session-rec" and len(provenance["commit"]) == 40
        assert cls.param_set_info(set_name)["commit"] == provenance["commit"]
        assert cls.param_set_of(params) == set_name


def test_published_diginetica_values():
    # docs/umuai/tables_opt/opt_tables_window.html, row DIGINETICA of the V-STAN table
    assert VSTAN.named_params("diginetica") == dict(
        k=1500, sample_size=5000, similarity="cosine", lambda_spw=4.9, lambda_snh=40, lambda_inh=4.9,
        lambda_ipw=1.225, lambda_idf=10,
    )  # fmt: skip


def test_unknown_set_names_the_available_ones():
    with pytest.raises(Exception, match="available: diginetica, retailrocket, rsc15"):
        STAN.named_params("yoochoose")
    assert SSKNN.param_set_names() == [] and issubclass(SSKNN, BaseModel)


@pytest.mark.parametrize("name", ["sknn", "vsknn", "stan", "vstan"])
def test_search_spaces_name_constructor_parameters(name):
    path = resources.files("sessrec_baselines") / "spaces" / f"{name}.toml"
    space = tomllib.loads(path.read_text())
    assert "rn5l/session-rec" in space["source"]
    params = {k: v for k, v in space.items() if isinstance(v, dict)}
    assert set(params) <= set(param_names(MODELS[name]))
    for spec in params.values():
        assert spec["type"] == "categorical" and len(spec["choices"]) >= 2
