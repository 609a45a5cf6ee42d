"""Leftovers of killed writes: hidden temporary names only, and a helper that removes them.

A write killed midway (tests/hardening/test_crash.py does it for real) leaves at most
``.<name>.gridcast-<random>.tmp`` files or folders, or a ``.<name>.gridcast-<hex>.old`` folder, never a
partial file under a final name. ``outputs.remove_stale_temps`` removes exactly those.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from flows import outputs


def test_remove_stale_temps_removes_only_our_leftovers(tmp_path: Path) -> None:
    # A user's hidden temp-like files (an editor's swap, another tool's .old) are not ours,
    # nor is anything below the folder; before the fix every ".*.tmp" / ".*.old" below it went.
    keep = [tmp_path / "national.parquet", tmp_path / ".hidden", tmp_path / "a.tmp", tmp_path / ".x.tmp",
            tmp_path / ".national.parquet.k2j3.tmp", tmp_path / ".draft.v2.old",
            tmp_path / "sub" / ".report.html.gridcast-abc.tmp"]
    keep[-1].parent.mkdir()
    for path in keep:
        path.write_text("x")
    stale = [tmp_path / ".national.parquet.gridcast-k2j3.tmp", tmp_path / ".report.html.gridcast-a_b9.tmp"]
    for path in stale:
        path.write_text("partial")
    folders = [tmp_path / ".forecast.gridcast-0123abcd.tmp", tmp_path / ".regional.gridcast-89ef.old"]
    for folder in folders:
        (folder / "scenario=x").mkdir(parents=True)
        (folder / "scenario=x" / "part-0.parquet").write_text("partial")
    assert outputs.remove_stale_temps(tmp_path, {"sensitivity.parquet"}) == []
    removed = outputs.remove_stale_temps(tmp_path)
    assert sorted(removed) == sorted(stale + folders)
    assert all(p.exists() for p in keep) and not any(p.exists() for p in stale + folders)


def test_every_writer_uses_the_gridcast_temp_name(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from reports.page import write_page

    seen: list[str] = []
    real = os.replace

    def spy(src, dst):  # noqa: ANN001, ANN202
        seen.append(Path(src).name)
        return real(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    monkeypatch.setattr(Path, "replace", lambda self, target: spy(self, target))
    outputs.write_parquet(tmp_path / "t.parquet", pd.DataFrame({"v": [1.0]}))
    outputs.write_partitioned(tmp_path / "p", pd.DataFrame({"scenario": ["a"], "v": [1.0]}))
    outputs.write_json(tmp_path / "run.json", {})
    write_page(tmp_path / "report.html", "<html></html>")
    assert seen and all(outputs.TEMP_MARK in name for name in seen), seen


def test_a_write_killed_midway_leaves_no_partial_final_file(tmp_path: Path) -> None:
    # A child writes a large Parquet file atomically; SIGKILL lands while it is being written.
    script = textwrap.dedent(f"""
        import sys, numpy as np, pandas as pd
        from flows import outputs
        frame = pd.DataFrame({{"v": np.random.default_rng(1).random(20_000_000)}})
        print("ready", flush=True)
        outputs.write_parquet({str(tmp_path / 'big.parquet')!r}, frame)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2], start_new_session=True)
    assert proc.stdout.readline().strip() == "ready"
    while not list(tmp_path.glob(".big.parquet.gridcast-*.tmp")) and proc.poll() is None:
        pass
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    assert not (tmp_path / "big.parquet").exists() or pq.read_table(tmp_path / "big.parquet").num_rows
    leftovers = outputs.remove_stale_temps(tmp_path)
    assert all(p.name.startswith(".big.parquet.") for p in leftovers)
    assert not list(tmp_path.glob(".*"))
    outputs.write_parquet(tmp_path / "big.parquet", pd.DataFrame({"v": [1.0]}))
    assert pq.read_table(tmp_path / "big.parquet").num_rows == 1
