"""Declarative parameter constraints: worked examples of what each form accepts."""

from typing import Any, ClassVar

import pytest

from sessrec.errors import ConfigError
from sessrec.models.params import Interval, Options, default_constraints, describe, validate_params


class Toy:
    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "k": [Interval(int, 1, None)],
        "lr": [Interval(float, 0.0, 1.0, closed="right")],
        "mode": [Options(str, {"a", "b"})],
        "cap": [Interval(int, 1, None), None],
    }

    def __init__(
        self,
        k: int = 10,
        lr: float = 0.1,
        mode: str = "a",
        cap: int | None = None,
        flag: bool = False,
        name: str = "x",
        ratio: float = 0.5,
        anything=None,
    ):
        self.k, self.lr, self.mode, self.cap = k, lr, mode, cap
        self.flag, self.name, self.ratio, self.anything = flag, name, ratio, anything


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"k": 1}, {"k": 1}),
        ({"lr": 1}, {"lr": 1.0}),  # an int for a float-only parameter is widened
        ({"lr": 1.0, "mode": "b"}, {"lr": 1.0, "mode": "b"}),
        ({"cap": None}, {"cap": None}),
        ({"flag": True, "ratio": 2}, {"flag": True, "ratio": 2.0}),
        ({"anything": [1, 2]}, {"anything": [1, 2]}),
    ],
)
def test_accepted_values(params, expected):
    out = validate_params(Toy, params, model_name="toy")
    assert out == expected
    assert all(type(out[k]) is type(v) for k, v in expected.items())


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"k": 0}, "parameter k=0 is not allowed; expected an int in [1, inf)"),
        ({"k": 2.5}, "k=2.5"),
        ({"k": True}, "k=True"),  # a bool is not a number
        ({"k": "abc"}, "k='abc'"),
        ({"lr": 0.0}, "expected a float in (0, 1]"),
        ({"lr": float("nan")}, "lr=nan"),
        ({"mode": "c"}, "expected one of 'a', 'b'"),
        ({"cap": 0}, "expected an int in [1, inf) or None"),
        ({"flag": 1}, "expected a bool (true/false)"),
        ({"name": 3}, "expected a string"),
        ({"kk": 3}, "has no parameter 'kk' (did you mean 'k'?)"),
    ],
)
def test_rejected_values_name_model_parameter_and_rule(params, fragment):
    with pytest.raises(ConfigError) as info:
        validate_params(Toy, params, model_name="toy")
    assert "'toy'" in str(info.value)
    assert fragment in str(info.value)


def test_defaults_give_type_constraints():
    c = default_constraints(Toy)
    assert c["flag"] == [bool] and c["name"] == [str] and c["ratio"] == [float]
    assert "anything" not in c
    assert describe(c["cap"]) == "an int in [1, inf) or None"


def test_interval_rejects_bad_spec():
    with pytest.raises(TypeError):
        Interval(str, 0, 1)
    with pytest.raises(ValueError):
        Interval(int, 0, 1, closed="open")
