"""Saved models: every installed model scores exactly as before after save/load; bad files fail clearly."""

import json
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from sessrec.data import prepare
from sessrec.errors import SessrecError
from sessrec.models.saving import _decode, _digest, _encode, load_model, model_path, save_model
from sessrec.registry import load_model as model_class
from sessrec.registry import model_names, register_model, unregister_model
from sessrec.testing.doubles import TransitionModel


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    return prepare("synthetic", data_root=root, n_sessions=300, n_items=60, cache=False)


def _all_scores(model, sessions):
    return torch.cat([model.score(batch) for batch, _ in sessions.prefix_batches(64)])


@pytest.mark.parametrize("name", model_names())
def test_saved_model_scores_exactly_as_before(name, split, tmp_path):
    cls = model_class(name)
    model = cls(**cls.test_params).fit(split.train)
    before = _all_scores(model, split.test)
    path = tmp_path / f"{name}.pt"
    save_model(model, path)
    loaded = load_model(path)
    assert type(loaded) is cls  # parameters as JSON keeps them: tuples come back as lists
    assert json.dumps(loaded.get_params(), sort_keys=True) == json.dumps(model.get_params(), sort_keys=True)
    after = _all_scores(loaded, split.test)
    assert after.dtype == before.dtype and after.shape == before.shape == (split.test.n_cases, split.train.n_items)
    assert torch.equal(before.isneginf(), after.isneginf())
    finite = before.isfinite()
    assert float((before[finite] - after[finite]).abs().max()) == 0.0
    if hasattr(model, "score_sessions"):
        batch, _ = next(iter(split.test.prefix_batches(16)))
        assert torch.equal(model.score_sessions(batch), loaded.score_sessions(batch))


def test_load_from_a_study_folder_by_run_id(split, tmp_path):
    model = model_class("markov")().fit(split.train)
    save_model(model, model_path(tmp_path, "abc123"))
    assert (tmp_path / "models" / "abc123.pt").is_file()
    batch, _ = next(iter(split.test.prefix_batches(32)))
    assert torch.equal(load_model(tmp_path, "abc123").score(batch), model.score(batch))
    with pytest.raises(SessrecError, match=r"no saved model at .*nope\.pt"):
        load_model(tmp_path, "nope")


def test_plain_data_round_trips_with_types():
    value = {
        "a": np.arange(5, dtype=np.int32),
        "b": sp.csr_matrix(np.array([[0, 2.5], [1, 0]])),
        "z": sp.csr_matrix(np.array([[0, 1 + 2j], [3, 0]])),
        "c": (1, 2.0, None, "x", True),
        "d": [torch.tensor([1.5]), torch.float64, torch.device("cpu"), np.float32(0.25)],
    }
    back = _decode(_encode(value, "v"), ("sessrec.",))
    assert back["a"].dtype == np.int32 and back["a"].tolist() == [0, 1, 2, 3, 4]
    assert isinstance(back["b"], sp.csr_matrix) and (back["b"] != value["b"]).nnz == 0
    assert back["z"].dtype == np.complex128 and (back["z"] != value["z"]).nnz == 0
    assert back["c"] == (1, 2.0, None, "x", True) and isinstance(back["c"], tuple)
    assert torch.equal(back["d"][0], value["d"][0]) and back["d"][1] is torch.float64
    assert back["d"][2] == torch.device("cpu")
    assert back["d"][3] == np.float32(0.25) and back["d"][3].dtype == np.float32


def test_an_unfitted_model_cannot_be_saved(tmp_path):
    with pytest.raises(SessrecError, match="not fitted"):
        save_model(model_class("pop")(), tmp_path / "m.pt")


@pytest.fixture
def saved(split, tmp_path):
    path = tmp_path / "iknn.pt"
    save_model(model_class("iknn")().fit(split.train), path)
    return path


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_truncated_random_and_pickled_files_give_one_clear_error(saved, tmp_path):
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    noise = tmp_path / "noise.pt"
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    evil = tmp_path / "evil.pt"
    torch.save({"format": "sessrec-model/1", "model": Evil()}, evil)
    raw_pickle = tmp_path / "raw.pt"
    raw_pickle.write_bytes(pickle.dumps(Evil()))
    for bad in (truncated, noise, evil, raw_pickle):
        with pytest.raises(SessrecError, match="not a readable sessrec model file"):
            load_model(bad)


def _tamper(path, edit, *, forge_digest=True):
    """Edit a saved payload; by default also recompute its checksum, as a deliberate forger could."""
    payload = torch.load(path, weights_only=True)
    payload.pop("digest")
    edit(payload)
    if forge_digest:
        payload["digest"] = _digest(payload)
    torch.save(payload, path)


def test_changed_bytes_and_edits_without_a_new_checksum_give_one_clear_error(split, saved, tmp_path):
    path = tmp_path / "bprmf.pt"
    save_model(model_class("bprmf")(**model_class("bprmf").test_params).fit(split.train), path)
    blob = bytearray(path.read_bytes())
    start = blob.index(b"data/0") + 200  # inside the first tensor's stored bytes
    blob[start : start + 16] = bytes(16)
    path.write_bytes(bytes(blob))
    with pytest.raises(SessrecError, match="does not match the checksum saved with it"):
        load_model(path)  # torch.load itself reads the changed weights without complaint
    _tamper(saved, lambda p: p.update(params=p["params"].replace("100", "7")), forge_digest=False)
    with pytest.raises(SessrecError, match="does not match the checksum saved with it"):
        load_model(saved)


def test_tampered_contents_give_one_clear_error(saved):
    _tamper(saved, lambda p: p.update(format="other/9"))
    with pytest.raises(SessrecError, match="expected format 'sessrec-model/1', found 'other/9'"):
        load_model(saved)
    _tamper(saved, lambda p: p.update(format="sessrec-model/1", model="os:system"))
    with pytest.raises(SessrecError, match="'os:system' is not a registered model"):
        load_model(saved)


def test_a_helper_class_outside_the_model_package_is_refused(saved):
    def point_helper_at_os(payload):
        payload["state"]["items"]["_rows_"]["class"] = "os:_wrap_close"

    _tamper(saved, point_helper_at_os)
    with pytest.raises(SessrecError, match="outside the model's package"):
        load_model(saved)


def test_inconsistent_network_state_gives_one_clear_error(split, tmp_path):
    path = tmp_path / "bprmf.pt"
    save_model(model_class("bprmf")(**model_class("bprmf").test_params).fit(split.train), path)
    _tamper(path, lambda p: p["network"].popitem())
    with pytest.raises(SessrecError, match="does not hold a consistent saved model"):
        load_model(path)


def test_parameters_are_stored_as_canonical_json(saved):
    payload = torch.load(saved, weights_only=True)
    assert json.loads(payload["params"]) == model_class("iknn")().get_params()


def test_a_registered_notebook_model_round_trips(split, tmp_path):
    register_model("transition-test", TransitionModel)
    try:
        model = TransitionModel().fit(split.train)
        save_model(model, tmp_path / "t.pt")
        batch, _ = next(iter(split.test.prefix_batches(32)))
        assert torch.equal(load_model(tmp_path / "t.pt").score(batch), model.score(batch))
    finally:
        unregister_model("transition-test")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_gpu_model_reloads_on_the_gpu_exactly_and_on_the_cpu_on_request(split, tmp_path):
    cls = model_class("narm")
    model = cls(**{**cls.test_params, "device": "cuda"}).fit(split.train)
    save_model(model, tmp_path / "narm.pt")
    on_gpu = load_model(tmp_path / "narm.pt")
    assert on_gpu.device_.type == "cuda"
    assert torch.equal(_all_scores(on_gpu, split.test), _all_scores(model, split.test))
    on_cpu = load_model(tmp_path / "narm.pt", device="cpu")
    assert on_cpu.device_.type == "cpu" and on_cpu.device == "cpu"
    torch.testing.assert_close(_all_scores(on_cpu, split.test), _all_scores(model, split.test).cpu())
