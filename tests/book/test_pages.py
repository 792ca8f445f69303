"""segrepro.book.pages: downloads, the stamp, the cost plan and the CLI help written next to the book's pages."""
import zipfile

import numpy as np

from segrepro.book import pages


def _results(root):
    root.mkdir()
    (root / "transegpgd.csv").write_text("study,value\ntransegpgd,0.5\n")
    (root / "claims.csv").write_text("paper,claim_id\nds,x\n")
    (root / "timings.csv").write_text("stage,seconds\nsetup,3.0\ntotal,3725.0\n")
    cells = root / "counts" / "transegpgd"
    cells.mkdir(parents=True)
    np.savez_compressed(cells / "c1.npz", a=np.arange(4))
    np.savez_compressed(cells / "c2.partial.npz", a=np.arange(4))  # an unfinished cell: not published
    return root


def test_downloads_copy_tables_and_zip_counts(tmp_path):
    files = pages.collect_downloads(_results(tmp_path / "res"), tmp_path / "src")
    names = [f["name"] for f in files]
    assert names == ["claims.csv", "timings.csv", "transegpgd.csv", "counts_transegpgd.zip"]
    with zipfile.ZipFile(tmp_path / "src" / "downloads" / "counts_transegpgd.zip") as z:
        assert z.namelist() == ["transegpgd/c1.npz"]
    md = pages.downloads_markdown(files)
    assert "{download}`claims.csv <downloads/claims.csv>`" in md and "tidy result rows of the transegpgd study" in md
    assert "1 cells" in md and " bytes |" in md
    assert pages.downloads_markdown([]) == "This run stored no result files.\n"


def test_stamp_names_commit_date_hardware_and_run_time(tmp_path):
    s = pages.stamp(_results(tmp_path / "res"), "smoke")
    assert s["profile"] == "smoke" and s["run_time"] == "1 h 2 min"
    assert s["commit"] and s["torch"] and "cores" in s["cpu"] and s["gpu"]
    text = pages.stamp_markdown(s)
    assert text.startswith('<p class="sr-stamp">') and "smoke" in text and "nan" not in text.lower()
    assert pages.duration(None) == "not recorded" and pages.duration(95) == "1 min 35 s"
    assert pages.human_size(999) == "999 bytes" and pages.human_size(1234567) == "1.2 MB"


def test_generated_pages(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    plan = pages.write_plan(src)  # counts of the paper profile, no data or checkpoints needed
    assert "dynamic_scaling" in plan and "forward+backward" in plan and (src / "plan_paper.txt").exists()
    help_text = pages.write_cli_help(src).read_text()
    assert "$ segrepro --help" in help_text and "$ segrepro run --help" in help_text
    s = pages.write_generated(src, _results(tmp_path / "res"), "smoke", plan=False)
    assert {"downloads_list.md", "stamp.md", "cli_help.txt", "plan_paper.md"} <= {p.name for p in src.iterdir()}
    assert s["profile"] == "smoke"
