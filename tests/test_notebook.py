"""Progress in a real Jupyter kernel: shown with no callback installed, and silenced on request."""

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

SETUP = """
import torch, sessrec
torch.set_num_threads(1)
data = sessrec.prepare("synthetic", data_root={root!r}, n_sessions=600, n_items=80, valid_days=1)
"""
FIT = 'model = sessrec.make_model("narm", epochs=2, hidden_size=8, embedding_dim=8).fit(data.train, valid=data.valid)'
SILENT = "sessrec.progress.show_progress(False)\n" + FIT


def _texts(cell):
    out = []
    for o in cell.outputs:
        if o.output_type in ("display_data", "update_display_data", "execute_result"):
            out.append(o.data.get("text/plain", ""))
        elif o.output_type == "stream":
            out.append(o.text)
    return "\n".join(out)


def test_a_notebook_shows_training_progress_by_default_and_can_silence_it(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in (SETUP.format(root=str(tmp_path)), FIT, SILENT)]
    nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    shown = _texts(nb.cells[1])
    assert "NARM epochs" in shown and "2/2" in shown and "eta" in shown, shown  # the bars' final state
    assert "valid_recall@20" in shown and "loss" in shown
    bars = [o for o in nb.cells[1].outputs if "NARM epochs" in o.get("data", {}).get("text/plain", "")]
    assert len(bars) == 1, "progress is one display, updated in place"
    assert _texts(nb.cells[2]) == ""  # show_progress(False): nothing
