"""POP and S-POP metrics on real DIGINETICA slices equal a brute-force reference to 1e-9.

The reference prepares the split with ``tests/reference_protocol.py`` (plain Python over the
raw rows) and ranks targets by counting, never touching sessrec's evaluator or models.
"""

import bisect
import math
import pathlib
import sys

import pytest
from sessrec_baselines.pop import Pop
from sessrec_baselines.spop import SPop

from sessrec.data import prepare
from sessrec.evaluation import evaluate

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tests"))
from reference_protocol import narm_reference

DATA = pathlib.Path(__file__).resolve().parents[3] / "shared" / "data" / "diginetica"
CUTOFFS = (5, 10, 20)
CASES = [("train-item-views_combined.csv", 1), ("train-item-views_sample.csv", 7)]


def brute_force_ranks(ref):
    """Conservative ranks (#items scoring >= the target) of POP and S-POP for every test case."""
    pop = dict.fromkeys(ref.items, 0)
    for seq in ref.train:
        for item in seq:
            pop[item] += 1
    sorted_pop = sorted(pop.values())
    n = len(sorted_pop)

    def at_least(value):  # items whose popularity is >= value
        return n - bisect.bisect_left(sorted_pop, value)

    pop_ranks, spop_ranks = [], []
    for prefix, target in ref.test_cases:
        pop_ranks.append(at_least(pop[target]))
        counts = {}
        for item in prefix:
            counts[item] = counts.get(item, 0) + 1
        key_t = (counts.get(target, 0), pop[target])
        in_prefix = sum(1 for item, c in counts.items() if (c, pop[item]) >= key_t)
        if key_t[0] > 0:  # items outside the prefix (count 0) all rank below the target
            outside = 0
        else:  # outside items tie-break by popularity alone
            outside = at_least(pop[target]) - sum(1 for item in counts if pop[item] >= pop[target])
        spop_ranks.append(in_prefix + outside)
    return pop_ranks, spop_ranks


def metrics(ranks):
    out = {}
    for k in CUTOFFS:
        out[f"recall@{k}"] = sum(r <= k for r in ranks) / len(ranks)
        out[f"mrr@{k}"] = sum(1 / r for r in ranks if r <= k) / len(ranks)
        out[f"ndcg@{k}"] = sum(1 / math.log2(r + 1) for r in ranks if r <= k) / len(ranks)
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("filename", "test_days"), CASES)
def test_pop_spop_match_brute_force(filename, test_days, tmp_path):
    path = DATA / filename
    if not path.exists():
        pytest.skip(f"{path} not available")
    ref = narm_reference(str(path), test_days)
    ds = prepare("diginetica", path=str(path), test_days=test_days, data_root=tmp_path)
    assert ds.item_index.to_ids(ds.test.case_targets()).tolist() == [t for _, t in ref.test_cases]
    pop_ranks, spop_ranks = brute_force_ranks(ref)
    for model, ranks in ((Pop(), pop_ranks), (SPop(), spop_ranks)):
        result = evaluate(model.fit(ds.train), ds.test, cutoffs=CUTOFFS)
        assert result.ranks.tolist() == ranks, type(model).__name__
        expected = metrics(ranks)
        for key, value in expected.items():
            assert result.metrics[key] == pytest.approx(value, abs=1e-9), (type(model).__name__, key)
