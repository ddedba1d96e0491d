"""Wall time of one small study (3 models x 2 seeds, synthetic) in process and on a local Ray cluster.

Run: ``python tests/perf/executors_wall.py`` (needs the ``ray`` extra). Prints one JSON line:
seconds in process, seconds to start Ray, seconds on Ray, runs finished by each.
"""

import json
import tempfile
import time

import ray
import torch

from sessrec.executors import make_executor
from sessrec.runner import RunSpec, run_study

DATA = {"n_sessions": 3000, "n_items": 200, "seed": 5}
MODELS = [("pop", {}), ("markov", {}), ("bprmf", {"epochs": 5})]


def main() -> None:
    torch.set_num_threads(1)
    out = tempfile.mkdtemp(prefix="sessrec-exec-")
    specs = [
        RunSpec(m, "synthetic", params=p, dataset_options=DATA, seed=s, device="cpu") for m, p in MODELS for s in (0, 1)
    ]
    run_study(specs[:1], f"{out}/warm", data_root=f"{out}/d")  # prepare the data once
    t0 = time.perf_counter()
    local = run_study(specs, f"{out}/inprocess", data_root=f"{out}/d")
    t1 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    t2 = time.perf_counter()
    remote = run_study(specs, f"{out}/ray", data_root=f"{out}/d", executor=make_executor("ray"))
    t3 = time.perf_counter()
    ray.shutdown()
    row = {"inprocess_s": round(t1 - t0, 1), "ray_start_s": round(t2 - t1, 1), "ray_s": round(t3 - t2, 1)}
    print(json.dumps({**row, "runs": [len(local.ran), len(remote.ran)]}))


if __name__ == "__main__":
    main()
