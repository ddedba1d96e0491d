"""Every installed model ships a search space that its constructor accepts (range ends, choices, fixed values)."""

import pytest

from sessrec.registry import load_model, model_names
from sessrec.tuning import find_space_file, load_space


@pytest.mark.parametrize("name", model_names())
def test_every_installed_model_has_a_valid_search_space(name):
    assert find_space_file(name) is not None, f"{name} ships no spaces/{name}.toml"
    space = load_space(name)
    assert space.source, f"{name}'s search space does not say where it comes from"
    space.check(load_model(name), name)  # raises ConfigError on a value the constructor rejects
