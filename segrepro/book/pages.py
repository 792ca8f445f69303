"""Files the book build writes next to the prose pages: downloads, the run's stamp, the cost plan, CLI help.

Each function writes into the assembled sources (``results/<profile>/book_src``) and never touches
``book/``. The prose pages pull them in with MyST's ``{include}`` or ``{literalinclude}``:

- ``downloads_list.md`` (included by ``book/downloads.md``): every file of ``downloads/`` with its size:
  the run's tidy result tables, ``claims.csv``, ``timings.csv`` and one zip of per-image counts per study.
- ``stamp.md`` (included by ``book/intro.md``): commit, date, hardware, torch version, profile and the
  run's wall time (from ``timings.csv``).
- ``plan_paper.md`` (included by ``book/paper_scale.md``): the output of ``segrepro plan --profile paper``
  when the command exists, also saved as ``plan_paper.txt``; otherwise a sentence saying how to get it.
- ``cli_help.txt`` (included by ``book/api.md``): the command's own ``--help`` texts.
"""
from __future__ import annotations

import datetime as _dt
import os
import platform
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

#: Files of ``results/<profile>/`` that are not tidy result tables of a study.
NOT_TABLES = ("timings.csv", "claims.csv")
#: The folder of ``book_src`` whose files the Downloads page lists.
DOWNLOADS = "downloads"


def human_size(n: int) -> str:
    """``1234567`` -> ``"1.2 MB"`` (decimal units, as browsers show downloads)."""
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def collect_downloads(results: Path, book_src: Path) -> list[dict]:
    """Copy the run's result files into ``book_src/downloads`` and zip per-image counts per study.

    Returns:
        One record per file: ``name``, ``what`` (in words), ``bytes``.
    """
    results, out = Path(results), Path(book_src) / DOWNLOADS
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    files = []
    for csv in sorted(results.glob("*.csv")):
        shutil.copy2(csv, out / csv.name)
        what = {"claims.csv": "every claim and part with our value, interval, n and outcome",
                "timings.csv": "wall time of each stage of the run (seconds)"}.get(
                    csv.name, f"tidy result rows of the {csv.stem.replace('_', ' ')} study")
        files.append(dict(name=csv.name, what=what, bytes=csv.stat().st_size))
    counts = results / "counts"
    for study in sorted(p for p in counts.glob("*") if p.is_dir()) if counts.is_dir() else []:
        cells = sorted(f for f in study.rglob("*.npz") if not f.name.endswith(".partial.npz"))
        if not cells:
            continue
        target = out / f"counts_{study.name}.zip"
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as z:  # npz is compressed already
            for f in cells:
                z.write(f, f.relative_to(counts).as_posix())
        files.append(dict(name=target.name, bytes=target.stat().st_size,
                          what=f"per-image counts of the {study.name.replace('_', ' ')} study ({len(cells)} cells, "
                               "one .npz each)"))
    return files


def downloads_markdown(files: list[dict]) -> str:
    """The Markdown table of the Downloads page (``{download}`` links, sizes)."""
    if not files:
        return "This run stored no result files.\n"
    lines = ["| file | what it holds | size |", "|---|---|---|"]
    for f in files:
        lines.append(f"| {{download}}`{f['name']} <{DOWNLOADS}/{f['name']}>` | {f['what']} | {human_size(f['bytes'])} |")
    return "\n".join(lines) + "\n"


def git_commit(cwd: str | Path = ".") -> str:
    """Short commit hash of ``cwd``, with ``+ local changes`` when tracked files differ; ``unknown`` outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=cwd, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + (" + local changes" if dirty else "")


def cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo``, else ``platform``) and the number of cores."""
    name = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name or platform.processor() or platform.machine() or 'unknown CPU'}, {os.cpu_count()} cores"


def gpu_name() -> str:
    """The first CUDA device's name, or ``none``."""
    try:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    except Exception:  # noqa: BLE001 - a broken CUDA setup must not stop the book
        return "none"


def run_seconds(results: Path) -> float | None:
    """The ``total`` row of ``timings.csv`` (seconds), None without it."""
    path = Path(results) / "timings.csv"
    if not path.is_file():
        return None
    import pandas as pd

    t = pd.read_csv(path)
    total = t.loc[t["stage"] == "total", "seconds"]
    return float(total.iloc[0]) if len(total) else float(t["seconds"].sum())


def duration(seconds: float | None) -> str:
    """``95`` -> ``"1 min 35 s"``; None -> ``"not recorded"``."""
    if seconds is None:
        return "not recorded"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return (f"{h} h {m} min" if h else f"{m} min {s} s" if m else f"{s} s")


def stamp(results: Path, profile_name: str, cwd: str | Path = ".") -> dict[str, str]:
    """What the landing page says about this build: commit, date, hardware, torch, profile, run time."""
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed"
    return {"commit": git_commit(cwd), "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "cpu": cpu_name(), "gpu": gpu_name(), "torch": torch_version, "python": platform.python_version(),
            "profile": profile_name, "run_time": duration(run_seconds(results))}


def stamp_markdown(s: dict[str, str]) -> str:
    """The stamp as one HTML paragraph (``stamp.md``)."""
    return (f'<p class="sr-stamp">This book was built from commit <code>{s["commit"]}</code> on {s["date"]}, '
            f'profile <code>{s["profile"]}</code>. The run took {s["run_time"]} on {s["cpu"]}, GPU: {s["gpu"]}; '
            f'torch {s["torch"]}, Python {s["python"]}. Result files: <a href="downloads.html">Downloads</a>.</p>\n')


def write_plan(book_src: Path, profile: str = "paper", timeout: int = 300) -> str:
    """Write ``plan_paper.md`` (and ``plan_paper.txt`` when the planner exists); returns the plan text or ''."""
    # counts only: the build machine has neither the papers' data nor their checkpoints to calibrate with
    text, note = "", ""
    proc = subprocess.run([sys.executable, "-m", "segrepro.cli", "plan", "--profile", profile, "--no-calibrate",
                           "--no-progress"], capture_output=True, text=True, timeout=timeout)
    if proc.returncode == 0 and proc.stdout.strip():
        text = proc.stdout.rstrip() + "\n"
    else:
        note = (f"The cell counts of `segrepro plan --profile {profile}` could not be computed in this build; "
                "run the command where the data and checkpoints are.")
    md = Path(book_src) / "plan_paper.md"
    if text:
        (Path(book_src) / "plan_paper.txt").write_text(text)
        md.write_text(f"Output of `segrepro plan --profile {profile}` in this build "
                      "({download}`plan_paper.txt <plan_paper.txt>`):\n\n```text\n" + text + "```\n")
    else:
        md.write_text(note + "\n")
    return text


def write_cli_help(book_src: Path) -> Path:
    """``cli_help.txt``: ``segrepro --help`` and the help of each subcommand.

    Run as subprocesses: the book layer does not import the command that drives it.
    """
    import re

    def run(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "segrepro.cli", *args, "--help"], capture_output=True,
                              text=True, timeout=120).stdout

    main = run()
    parts = ["$ segrepro --help", main]
    for name in re.findall(r"^    ([a-z]+)  ", main, flags=re.M):  # the COMMAND list of the help
        parts += [f"$ segrepro {name} --help", run(name)]
    out = Path(book_src) / "cli_help.txt"
    out.write_text("\n".join(parts))
    return out


def write_generated(book_src: str | Path, results: str | Path, profile_name: str, *, plan: bool = True) -> dict:
    """Write every generated file into ``book_src``; returns the stamp."""
    book_src, results = Path(book_src), Path(results)
    files = collect_downloads(results, book_src)
    (book_src / "downloads_list.md").write_text(downloads_markdown(files))
    s = stamp(results, profile_name)
    (book_src / "stamp.md").write_text(stamp_markdown(s))
    write_cli_help(book_src)
    if plan:
        write_plan(book_src)
    else:
        (book_src / "plan_paper.md").write_text("The cost estimate was not computed in this build.\n")
    return s
