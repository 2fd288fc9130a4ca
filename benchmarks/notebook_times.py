"""Wall time and peak memory of every notebook under a profile, each from an empty run store.

    python benchmarks/notebook_times.py full     # the whole homework (tens of minutes)
    python benchmarks/notebook_times.py smoke
    python benchmarks/notebook_times.py full 02_train   # re-measure some; merged into the JSON
    python benchmarks/notebook_times.py full --keep DIR  # also keep the executed copies in DIR
    python benchmarks/notebook_times.py full 07_ --inplace --runs-dir data/runs

Executed copies, the run store and figures go to a temporary folder (``figures/`` and the
committed notebooks are not touched). With ``--inplace`` the notebooks are executed in place
and their figures written to ``figures/`` (the committed, timed execution); ``--runs-dir``
keeps the run store in a folder of your choice, which must hold no runs of the timed
notebooks' experiments (the timing is from an empty store). A notebook that fails is
recorded as failed, with its error, and the others are still timed. The table is rewritten
after every notebook, so the rows already measured survive an interrupted run. Writes
``benchmarks/notebook_times_<profile>.json`` (``--out`` overrides).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

MEASURE = """
import json, resource, subprocess, sys
done = subprocess.run(json.loads(sys.argv[1]), capture_output=True, text=True)
sys.stderr.write(done.stderr)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
sys.exit(done.returncode)
"""


def cpu_name() -> str:
    """The CPU model from ``/proc/cpuinfo`` (or the platform's answer)."""
    from hw1.environment import cpu_model

    return cpu_model()


def last_error(stderr: str, limit: int = 600) -> str:
    """The informative tail of a failed nbconvert's stderr (the exception, not the banner)."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", stderr)  # the kernel's traceback is coloured
    lines = [ln for ln in plain.strip().splitlines() if ln.strip()]
    for i in range(len(lines) - 1, -1, -1):  # the last traceback's final line names the error
        if "Error" in lines[i] or "Exception" in lines[i]:
            return "\n".join(lines[max(0, i - 3):i + 1])[-limit:]
    return "\n".join(lines[-4:])[-limit:] or "failed with no message"


def time_notebook(notebook: Path, env: dict[str, str], out_dir: Path | None) -> dict:
    """Execute one notebook in a fresh wrapper process; its row of the table.

    Returns:
        ``{"notebook", "seconds", "peak_rss_mib", "ok"}``, plus ``"error"`` when it failed
        (``peak_rss_mib`` is then None).
    """
    jupyter = Path(sys.executable).parent / "jupyter"
    command = [str(jupyter), "nbconvert", "--to", "notebook", "--execute",
               "--ExecutePreprocessor.timeout=-1", str(notebook)]
    command[-1:-1] = ["--inplace"] if out_dir is None else ["--output-dir", str(out_dir)]
    # a fresh wrapper process per notebook, so its RUSAGE_CHILDREN peak (the largest
    # descendant: the kernel) belongs to this notebook alone
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", MEASURE, json.dumps(command)], env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    row: dict = {"notebook": notebook.name, "seconds": round(seconds, 1),
                 "peak_rss_mib": None, "ok": proc.returncode == 0}
    with contextlib.suppress(IndexError, ValueError):  # no number printed: peak unknown
        row["peak_rss_mib"] = round(float(proc.stdout.strip().splitlines()[-1]))
    if not row["ok"]:
        row["error"] = last_error(proc.stderr)
    return row


def merge(rows: list[dict], earlier: list[dict]) -> list[dict]:
    """Re-measured rows replace their earlier versions; the rest keep their place."""
    fresh = {r["notebook"]: r for r in rows}
    return [fresh.pop(r["notebook"], r) for r in earlier] + list(fresh.values())


def write_table(out: Path, header: str, rows: list[dict]) -> None:
    """Write the JSON table (atomically: a reader never sees half of it)."""
    total = sum(r["seconds"] for r in rows)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps({"machine": header, "rows": rows, "total_seconds": round(total, 1),
                               "failed": [r["notebook"] for r in rows if not r["ok"]]},
                              indent=1))
    os.replace(tmp, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", choices=("full", "smoke"))
    parser.add_argument("only", nargs="*", help="notebook name prefixes (default: all)")
    parser.add_argument("--notebooks", default=str(ROOT / "notebooks"),
                        help="folder of the notebooks to time")
    parser.add_argument("--out", help="JSON table (default benchmarks/notebook_times_<profile>"
                        ".json)")
    parser.add_argument("--keep", help="copy the executed notebooks into this folder")
    parser.add_argument("--inplace", action="store_true",
                        help="execute the notebooks in place, figures into figures/")
    parser.add_argument("--runs-dir", help="run store folder (default: a temporary one)")
    args = parser.parse_args(argv)
    if args.runs_dir:  # the kernel runs in notebooks/: a relative path would land there
        args.runs_dir = str(Path(args.runs_dir).resolve())
    import torch

    from hw1.environment import describe

    notebooks = [nb for nb in sorted(Path(args.notebooks).glob("*.ipynb"))
                 if not args.only or any(nb.name.startswith(p) for p in args.only)]
    if not notebooks:
        print(f"no notebook in {args.notebooks} matches {args.only}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else HERE / f"notebook_times_{args.profile}.json"
    earlier = json.loads(out.read_text())["rows"] if args.only and out.exists() else []
    env_info = describe()
    header = (f"CPU: {env_info['cpu']}, {os.cpu_count()} cores; torch {torch.__version__}, "
              f"{os.environ.get('OMP_NUM_THREADS', torch.get_num_threads())} threads; profile "
              f"{args.profile}; each notebook from an empty run store")
    print(header)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "HW1_PROFILE": args.profile,
               "HW1_RUNS_DIR": args.runs_dir or f"{tmp}/runs", "TQDM_DISABLE": "1"}
        if not args.inplace:
            env["HW1_FIGURES_DIR"] = f"{tmp}/figures"
        if args.runs_dir:
            from hw1.experiments import EXPERIMENTS
            names = [nb.name for nb in notebooks]
            used = [e for e in EXPERIMENTS if any(n.endswith(f"{e}.ipynb") for n in names)]
            full = [e for e in used if any(Path(args.runs_dir, e).glob("*"))]
            if full:
                print(f"{args.runs_dir} already holds runs of {', '.join(full)}; move them "
                      "aside: the timing is from an empty run store", file=sys.stderr)
                return 2
        for nb in notebooks:
            row = time_notebook(nb, env, None if args.inplace else Path(tmp))
            rows.append(row)
            peak = "?" if row["peak_rss_mib"] is None else f"{row['peak_rss_mib']:7d}"
            print(f"{nb.name:<40} {row['seconds']:8.1f} s   peak RSS {peak} MiB"
                  f"{'' if row['ok'] else '   FAILED: ' + row['error']}", flush=True)
            write_table(out, header, merge(rows, earlier))  # measured rows survive a crash
            if args.keep and row["ok"] and not args.inplace:
                Path(args.keep).mkdir(parents=True, exist_ok=True)
                shutil.copy(Path(tmp) / nb.name, Path(args.keep) / nb.name)
    rows = merge(rows, earlier)
    total = sum(r["seconds"] for r in rows)
    failed = [r["notebook"] for r in rows if not r["ok"]]
    print(f"{'total':<40} {total:8.1f} s ({total / 60:.1f} min)"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    print(f"wrote {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
