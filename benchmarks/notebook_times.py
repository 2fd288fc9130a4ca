"""Wall time and peak memory of every notebook under a profile, each from an empty run store.

    python benchmarks/notebook_times.py full     # the whole homework (tens of minutes)
    python benchmarks/notebook_times.py smoke
    python benchmarks/notebook_times.py full 02_train   # re-measure some; merged into the JSON

Executed copies and the run store go to a temporary folder, and figures too (``figures/``
and the committed notebooks are not touched). Writes ``benchmarks/notebook_times_<profile>.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from run import cpu_name  # noqa: E402

MEASURE = """
import json, resource, subprocess, sys
done = subprocess.run(json.loads(sys.argv[1]), capture_output=True, text=True)
if done.returncode:
    sys.stderr.write(done.stderr)
    sys.exit(done.returncode)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
"""


def main() -> int:
    profile = sys.argv[1] if len(sys.argv) > 1 else "smoke"
    if profile not in ("full", "smoke"):
        print("usage: notebook_times.py full|smoke", file=sys.stderr)
        return 2
    only = sys.argv[2:]
    notebooks = [nb for nb in sorted((ROOT / "notebooks").glob("*.ipynb"))
                 if not only or any(nb.name.startswith(prefix) for prefix in only)]
    out = HERE / f"notebook_times_{profile}.json"
    jupyter = Path(sys.executable).parent / "jupyter"
    rows = []
    header = (f"CPU: {cpu_name()}, {os.cpu_count()} cores; torch {torch.__version__}, "
              f"{torch.get_num_threads()} threads; profile {profile}; each notebook from an "
              "empty run store")
    print(header)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "HW1_PROFILE": profile, "HW1_RUNS_DIR": f"{tmp}/runs",
               "HW1_FIGURES_DIR": f"{tmp}/figures", "TQDM_DISABLE": "1"}
        for nb in notebooks:
            command = [str(jupyter), "nbconvert", "--to", "notebook", "--execute",
                       "--ExecutePreprocessor.timeout=-1", "--output-dir", tmp, str(nb)]
            # a fresh wrapper process per notebook, so its RUSAGE_CHILDREN peak (the largest
            # descendant: the kernel) belongs to this notebook alone
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", MEASURE, json.dumps(command)], env=env,
                                  capture_output=True, text=True)
            seconds = time.perf_counter() - start
            ok = proc.returncode == 0
            peak_mib = float(proc.stdout.strip().splitlines()[-1]) if ok else float("nan")
            rows.append({"notebook": nb.name, "seconds": round(seconds, 1),
                         "peak_rss_mib": round(peak_mib), "ok": ok})
            print(f"{nb.name:<40} {seconds:8.1f} s   peak RSS {peak_mib:7.0f} MiB"
                  f"{'' if ok else '   FAILED: ' + proc.stderr[-300:]}", flush=True)
    if only and out.exists():  # merge the re-measured rows into the earlier table
        fresh = {r["notebook"]: r for r in rows}
        earlier = json.loads(out.read_text())["rows"]
        rows = [fresh.pop(r["notebook"], r) for r in earlier] + list(fresh.values())
    total = sum(r["seconds"] for r in rows)
    print(f"{'total':<40} {total:8.1f} s ({total / 60:.1f} min)")
    out.write_text(json.dumps({"machine": header, "rows": rows, "total_seconds": total},
                              indent=1))
    print(f"wrote {out}")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
