"""evaluate(): worked example, brute-force reference, fast path, invariances, chunking, bad models."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sessrec import PrefixBatch, Sessions
from sessrec.evaluation import TIES, InvalidScoresError, default_batch_size, evaluate
from sessrec.progress import progress_callback


# ---------------------------------------------------------------------- test doubles
class PrefixTransitions:
    """Scores = a fixed item-transition table's row for the prefix's last click."""

    def __init__(self, table: torch.Tensor) -> None:
        self.table = table
        self.n_items_ = table.shape[1]
        self.rows_seen: list[tuple[str, int]] = []

    def score(self, batch: PrefixBatch) -> torch.Tensor:
        self.rows_seen.append(("score", batch.batch_size))
        return self.table[batch.last_items]


class SessionTransitions(PrefixTransitions):
    """The same model with the whole-session fast path."""

    def score_sessions(self, batch: PrefixBatch) -> torch.Tensor:
        self.rows_seen.append(("score_sessions", int(batch.lengths.sum())))
        return self.table[batch.items[batch.mask]]  # row-major: (b, t) for t < lengths[b]


def random_table(n_items: int, seed: int, levels: int = 4) -> torch.Tensor:
    """Few distinct values (many ties) and some -inf."""
    g = torch.Generator().manual_seed(seed)
    t = torch.randint(0, levels, (n_items, n_items), generator=g).float()
    t[torch.rand(n_items, n_items, generator=g) < 0.15] = float("-inf")
    return t


# ---------------------------------------------------------------------- plain-Python reference
def reference_evaluation(table, sessions, cutoffs, ties, pop):
    """Every case one at a time, straight from the definitions."""
    table = table.tolist()
    n_items = len(table)
    ranks, lists = [], []
    for seq in sessions:
        for i in range(1, len(seq)):
            row, target = table[seq[i - 1]], seq[i]
            ge = sum(s >= row[target] for s in row)
            gt = sum(s > row[target] for s in row)
            ranks.append({"conservative": ge, "optimistic": gt + 1, "median": (ge + gt + 1) / 2}[ties])
            lists.append(sorted(range(n_items), key=lambda j, r=row: (-r[j], j))[: max(cutoffs)])
    n = len(ranks)
    out = {}
    for k in cutoffs:
        out[f"recall@{k}"] = sum(r <= k for r in ranks) / n
        out[f"mrr@{k}"] = sum(1 / r for r in ranks if r <= k) / n
        out[f"ndcg@{k}"] = sum(1 / math.log2(r + 1) for r in ranks if r <= k) / n
        out[f"coverage@{k}"] = len({i for lst in lists for i in lst[:k]}) / n_items
        if pop is not None:
            top = max(pop)
            out[f"popularity@{k}"] = sum(sum(pop[i] / top for i in lst[:k]) / len(lst[:k]) for lst in lists) / n
    return ranks, out


def assert_metrics_close(got, want, rel=1e-12):
    assert set(got) == set(want)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=rel, abs=1e-15), key


# ---------------------------------------------------------------------- worked example
TABLE = torch.tensor(
    [  # scores after a prefix ending in item ...
        [0.0, 0.9, 0.5, 0.5],  # 0
        [0.2, 0.0, 0.8, 0.2],  # 1
        [0.7, 0.1, 0.0, 0.7],  # 2
        [0.4, 0.4, 0.4, 0.0],  # 3
    ]
)


@pytest.mark.parametrize("model_cls", [PrefixTransitions, SessionTransitions])
def test_worked_example_by_hand(model_cls):
    # cases: [0] -> 1 (score .9, best), [0, 1] -> 2 (.8, best), [3] -> 2 (.4, tied with items 0 and 1)
    test = Sessions.from_lists([[0, 1, 2], [3, 2]], n_items=4)
    pop = np.array([4, 2, 1, 1])  # normalised: 1, .5, .25, .25
    r = evaluate(model_cls(TABLE), test, cutoffs=(1, 3), item_popularity=pop)
    assert r.ranks.tolist() == [1, 1, 3] and r.ranks.dtype == np.int32
    assert r.n_cases == 3 and r.used_fast_path == (model_cls is SessionTransitions)
    m = r.metrics
    assert m["recall@1"] == pytest.approx(2 / 3) and m["recall@3"] == 1.0
    assert m["mrr@3"] == pytest.approx(7 / 9)  # (1 + 1 + 1/3) / 3
    assert m["ndcg@3"] == pytest.approx(5 / 6)  # (1 + 1 + 1/log2(4)) / 3
    # top-3 lists (ties -> lower item_idx first): [1, 2, 3], [2, 0, 3], [0, 1, 2]
    assert m["coverage@1"] == 0.75 and m["coverage@3"] == 1.0
    assert m["popularity@1"] == pytest.approx((0.5 + 0.25 + 1) / 3)
    assert m["popularity@3"] == pytest.approx(17 / 36)  # (1/3 + 1/2 + 7/12) / 3
    opt = evaluate(model_cls(TABLE), test, cutoffs=(1, 3), ties="optimistic")
    assert opt.ranks.tolist() == [1, 1, 1] and opt.metrics["recall@1"] == 1.0
    med = evaluate(model_cls(TABLE), test, cutoffs=(1, 3), ties="median")
    assert med.ranks.tolist() == [1.0, 1.0, 2.0] and med.ranks.dtype == np.float64
    assert med.metrics["mrr@3"] == pytest.approx(5 / 6)  # (1 + 1 + 1/2) / 3
    assert "popularity@3" not in med.metrics


# ---------------------------------------------------------------------- brute force, invariances
@st.composite
def session_sets(draw):
    n_items = draw(st.integers(2, 9))
    sessions = draw(st.lists(st.lists(st.integers(0, n_items - 1), min_size=1, max_size=9), min_size=1, max_size=8))
    if all(len(s) < 2 for s in sessions):
        sessions.append([0, 1])
    return n_items, sessions


@settings(max_examples=60, deadline=None)
@given(session_sets(), st.integers(0, 1000), st.sampled_from(TIES), st.integers(1, 12), st.booleans())
def test_matches_brute_force(data, seed, ties, batch_size, fast):
    n_items, sessions = data
    table = random_table(n_items, seed)
    pop = [float(c) for c in np.random.default_rng(seed).integers(0, 5, n_items)]
    pop[0] += 1
    cutoffs = (1, 3, 10)
    want_ranks, want = reference_evaluation(table, sessions, cutoffs, ties, pop)
    model = SessionTransitions(table) if fast else PrefixTransitions(table)
    test = Sessions.from_lists(sessions, n_items=n_items)
    r = evaluate(model, test, cutoffs=cutoffs, ties=ties, item_popularity=np.array(pop), batch_size=batch_size)
    assert r.ranks.tolist() == want_ranks
    assert_metrics_close(r.metrics, want)
    assert all(rows <= batch_size for _, rows in model.rows_seen)  # chunks never exceed the budget


@settings(max_examples=40, deadline=None)
@given(session_sets(), st.integers(0, 1000), st.sampled_from(TIES), st.integers(1, 20), st.integers(1, 20))
def test_fast_path_equals_per_prefix_for_any_batch_size(data, seed, ties, bs_a, bs_b):
    n_items, sessions = data
    table = random_table(n_items, seed)
    test = Sessions.from_lists(sessions, n_items=n_items)
    slow = evaluate(SessionTransitions(table), test, ties=ties, batch_size=bs_a, use_fast_path=False)
    fast = evaluate(SessionTransitions(table), test, ties=ties, batch_size=bs_b)
    assert not slow.used_fast_path
    assert fast.used_fast_path == any(1 <= len(s) - 1 <= bs_b for s in sessions)  # longer ones: per prefix
    np.testing.assert_array_equal(fast.ranks, slow.ranks)
    assert_metrics_close(fast.metrics, slow.metrics)


@settings(max_examples=30, deadline=None)
@given(session_sets(), st.integers(0, 1000), st.randoms(use_true_random=False), st.booleans())
def test_session_order_permutes_ranks(data, seed, rnd, fast):
    n_items, sessions = data
    table = random_table(n_items, seed)
    model = SessionTransitions(table) if fast else PrefixTransitions(table)
    test = Sessions.from_lists(sessions, n_items=n_items)
    perm = list(range(len(sessions)))
    rnd.shuffle(perm)
    base = evaluate(model, test, batch_size=3)
    shuffled = evaluate(model, test.select(perm), batch_size=3)
    case_start = np.concatenate([[0], np.cumsum(np.maximum(test.lengths - 1, 0))])
    expected = np.concatenate([base.ranks[case_start[s] : case_start[s + 1]] for s in perm])
    np.testing.assert_array_equal(shuffled.ranks, expected)
    assert_metrics_close(shuffled.metrics, base.metrics)


def test_long_session_goes_through_per_prefix_path():
    table = random_table(6, 0)
    sessions = [[0, 1], [1, 2, 3, 4, 5, 0, 1, 2], [2, 3, 4]]  # 7 cases > batch_size 3
    model = SessionTransitions(table)
    r = evaluate(model, Sessions.from_lists(sessions, n_items=6), batch_size=3)
    want_ranks, _ = reference_evaluation(table, sessions, (5,), "conservative", None)
    assert r.ranks.tolist() == want_ranks
    assert {m for m, _ in model.rows_seen} == {"score", "score_sessions"}
    assert max(rows for _, rows in model.rows_seen) <= 3


# ---------------------------------------------------------------------- memory-bounded chunking
class MillionItems:
    """1,000,000 items; a row is one of two integer-valued patterns (many ties) by the last click's parity."""

    n_items = 1_000_000

    def __init__(self) -> None:
        j = np.arange(self.n_items, dtype=np.int64)
        self.patterns = np.stack([(j * 7919) % 1009, (j * 104729) % 997]).astype(np.float32)
        self.patterns[1, ::3] = -np.inf
        self.torch_patterns = torch.from_numpy(self.patterns)
        self.max_rows = 0

    def score(self, batch: PrefixBatch) -> torch.Tensor:
        self.max_rows = max(self.max_rows, batch.batch_size)
        return self.torch_patterns[batch.last_items % 2]


def test_million_item_catalogue_is_chunked_and_exact():
    model = MillionItems()
    rng = np.random.default_rng(5)
    sessions = [rng.integers(0, model.n_items, size=n).tolist() for n in (30, 40, 3)]  # 70 cases
    test = Sessions.from_lists(sessions, n_items=model.n_items)
    r = evaluate(model, test, cutoffs=(20,))
    budget = default_batch_size(model.n_items)
    assert budget == 67 and model.max_rows == budget  # two chunks, none above 256 MiB of scores
    want = []
    for seq in sessions:
        for i in range(1, len(seq)):
            row = model.patterns[seq[i - 1] % 2]
            want.append(int((row >= row[seq[i]]).sum()))
    assert r.ranks.tolist() == want and r.n_cases == 70


# ---------------------------------------------------------------------- bad models
class Broken(PrefixTransitions):
    def __init__(self, table: torch.Tensor, fault: str) -> None:
        super().__init__(table)
        self.fault = fault

    def score(self, batch: PrefixBatch):
        s = super().score(batch).clone()
        if self.fault == "nan":
            s[-1, 2] = float("nan")
        elif self.fault == "posinf":
            s[0, 1] = float("inf")
        elif self.fault == "shape":
            return s[:, :-1]
        elif self.fault == "dtype":
            return s.clamp(min=0).long()
        elif self.fault == "numpy":
            return s.numpy()
        return s


@pytest.mark.parametrize(
    ("fault", "match"),
    [
        ("nan", r"Broken\.score returned NaN scores for 1 test case\(s\) \(first: case 2\)"),
        ("posinf", r"Broken\.score returned \+inf scores"),
        ("shape", r"Broken\.score returned scores of shape \(3, 3\); expected \(3, 4\)"),
        ("dtype", r"Broken\.score returned torch\.int64 scores; expected a floating-point"),
        ("numpy", r"Broken\.score must return a torch\.Tensor, got ndarray"),
    ],
)
def test_bad_model_output_raises_clear_error(fault, match):
    test = Sessions.from_lists([[0, 1, 2], [3, 2]], n_items=4)
    with pytest.raises(InvalidScoresError, match=match):
        evaluate(Broken(TABLE, fault), test)


def test_bad_fast_path_output_names_the_method():
    class Short(SessionTransitions):
        def score_sessions(self, batch):
            return super().score_sessions(batch)[:-1]

    test = Sessions.from_lists([[0, 1, 2], [3, 2]], n_items=4)
    with pytest.raises(InvalidScoresError, match=r"Short\.score_sessions returned scores of shape \(2, 4\)"):
        evaluate(Short(TABLE), test)


def test_bad_arguments():
    test = Sessions.from_lists([[0, 1, 2]], n_items=4)
    with pytest.raises(ValueError, match="ties must be one of"):
        evaluate(PrefixTransitions(TABLE), test, ties="mean")
    with pytest.raises(ValueError, match="batch_size"):
        evaluate(PrefixTransitions(TABLE), test, batch_size=0)
    with pytest.raises(ValueError, match="cutoffs"):
        evaluate(PrefixTransitions(TABLE), test, cutoffs=(0,))
    with pytest.raises(ValueError, match=r"fitted on a catalogue of 4 items.*n_items=5"):
        evaluate(PrefixTransitions(TABLE), Sessions.from_lists([[0, 1]], n_items=5))


# ---------------------------------------------------------------------- result and progress
def test_progress_events_and_keep_ranks():
    events = []
    test = Sessions.from_lists([[0, 1, 2, 3], [3, 2], [1]], n_items=4)
    with progress_callback(lambda kind, info: events.append((kind, info))):
        r = evaluate(SessionTransitions(TABLE), test, batch_size=2, keep_ranks=False)
    assert r.ranks is None and r.n_cases == 4 and r.seconds > 0 and r.device == "cpu"
    assert all(kind == "eval" and info["total"] == 4 for kind, info in events)
    done = [info["done"] for _, info in events]
    assert done[0] == 0 and done[-1] == 4 and done == sorted(done)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_gives_the_cpu_ranks():
    table = random_table(50, 1)
    rng = np.random.default_rng(0)
    test = Sessions.from_lists([rng.integers(0, 50, size=7).tolist() for _ in range(30)], n_items=50)
    cpu = evaluate(SessionTransitions(table), test, ties="median")
    gpu = evaluate(SessionTransitions(table.cuda()), test, ties="median")
    assert gpu.device.startswith("cuda")
    np.testing.assert_array_equal(gpu.ranks, cpu.ranks)
    assert_metrics_close(gpu.metrics, cpu.metrics)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_bad_values_found_in_large_catalogues(bad):
    class Spiky:
        def score(self, batch):
            s = torch.linspace(0, 1, 10_000).repeat(batch.batch_size, 1)
            s[1, 4321] = bad  # not the row maximum's block, not the last block
            return s

    test = Sessions.from_lists([[0, 1, 2, 3]], n_items=10_000)
    with pytest.raises(
        InvalidScoresError, match=r"Spiky\.score returned (NaN|\+inf) scores for 1 test case\(s\) \(first: case 1\)"
    ):
        evaluate(Spiky(), test)


def test_no_cases_gives_nan_metrics_and_empty_ranks():
    test = Sessions.from_lists([[1], [2]], n_items=4)
    r = evaluate(SessionTransitions(TABLE), test, cutoffs=(2,))
    assert r.n_cases == 0 and r.ranks.shape == (0,) and not r.used_fast_path
    assert set(r.metrics) == {"recall@2", "mrr@2", "ndcg@2", "coverage@2"}
    assert all(math.isnan(v) for v in r.metrics.values())
