"""Sessions and PrefixBatch against hand-written expectations."""

import numpy as np
import pytest
import torch

from sessrec import PAD, PrefixBatch, Sessions


@pytest.fixture
def sessions():
    return Sessions.from_lists([[3, 1, 4], [1, 5], [9], [2, 6, 5, 3]], n_items=10)


def test_sizes_and_indexing(sessions):
    assert sessions.n_sessions == 4
    assert sessions.n_clicks == 10
    assert sessions.lengths.tolist() == [3, 2, 1, 4]
    assert sessions.n_cases == 2 + 1 + 0 + 3
    assert sessions[3].tolist() == [2, 6, 5, 3]


def test_case_order_is_session_then_prefix_length(sessions):
    assert sessions.case_session().tolist() == [0, 0, 1, 3, 3, 3]
    assert sessions.case_prefix_lengths().tolist() == [1, 2, 1, 1, 2, 3]
    assert sessions.case_targets().tolist() == [1, 4, 5, 6, 5, 3]


def test_prefix_batches_pad_with_invalid_index(sessions):
    batches = list(sessions.prefix_batches(4))
    assert [len(t) for _, t in batches] == [4, 2]
    first, targets = batches[0]
    assert first.items.tolist() == [[3, PAD], [3, 1], [1, PAD], [2, PAD]]
    assert first.lengths.tolist() == [1, 2, 1, 1]
    assert targets.tolist() == [1, 4, 5, 6]
    assert first.last_items.tolist() == [3, 1, 1, 2]
    with pytest.raises(IndexError):  # forgetting the mask fails loudly
        torch.nn.Embedding(10, 2)(first.items)


def test_arrays_are_read_only_and_caller_untouched():
    items = np.array([0, 1, 2])
    s = Sessions(items, np.array([0, 3]), np.zeros(3), 3)
    assert items.flags.writeable  # the caller's array is not frozen
    with pytest.raises(ValueError):
        s.items[0] = 2


def test_to_csr_counts_repeats(sessions):
    m = Sessions.from_lists([[0, 0, 1], [2]], n_items=3).to_csr()
    assert m.toarray().tolist() == [[2, 1, 0], [0, 0, 1]]
    assert Sessions.from_lists([[0, 0, 1]], n_items=3).to_csr(binary=True).toarray().tolist() == [[1, 1, 0]]


def test_select_keeps_order(sessions):
    sub = sessions.select([3, 0])
    assert [s.tolist() for s in sub] == [[2, 6, 5, 3], [3, 1, 4]]
    assert sessions.select(np.array([False, True, False, False]))[0].tolist() == [1, 5]


def test_split_by_end_time_holds_out_the_sessions_that_end_last():
    # session ends: 5, 2, 9, 9, 1 -> by end (ties in order): 4, 1, 0, 2, 3
    s = Sessions(
        items=np.array([0, 1, 2, 0, 1, 2, 0, 1]),
        offsets=np.array([0, 2, 3, 5, 7, 8]),
        timestamps=np.array([1.0, 5.0, 2.0, 3.0, 9.0, 4.0, 9.0, 1.0]),
        n_items=3,
    )
    early, late = s.split_by_end_time(0.4)  # round(0.4 * 5) = 2 sessions held out
    assert early.tolist() == [0, 1, 4] and late.tolist() == [2, 3]
    early, late = s.split_by_end_time(0.01)  # at least one
    assert early.tolist() == [0, 1, 2, 4] and late.tolist() == [3]


@pytest.mark.parametrize(
    ("items", "offsets", "n_items", "message"),
    [
        ([0, 1], [0, 3], 2, "end at len"),
        ([0, 1], [0, 2, 1, 2], 2, "non-decreasing"),
        ([0, 5], [0, 2], 3, r"\[0, 3\)"),
    ],
)
def test_invalid_layouts_raise(items, offsets, n_items, message):
    with pytest.raises(ValueError, match=message):
        Sessions(np.array(items), np.array(offsets), np.zeros(len(items)), n_items)


def test_prefix_batch_select_and_from_lists():
    b = PrefixBatch.from_lists([[1, 2, 3], [4]])
    assert b.mask.tolist() == [[True, True, True], [True, False, False]]
    assert b.select([1]).items.tolist() == [[4]]
    with pytest.raises(ValueError):
        PrefixBatch.from_lists([[]])
