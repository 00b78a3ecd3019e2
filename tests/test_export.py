"""`qstore-tui export` and `qstore-tui compare` on fixed run directories."""

import csv
import io
import json
import os
import stat
import threading

import pytest

from qstore_tui.cli import main
from runs_fixtures import fake_run


def test_export_writes_the_metrics_as_csv_and_json(tmp_path, capsys):
    fake_run(tmp_path, "a", losses=[1.0, 0.8, 0.6, 0.5], val_accuracy=[0.6, 0.7])
    assert main(["export", "a", "--runs-dir", str(tmp_path)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["loss"] for r in rows] == ["1.0", "0.8", "0.6", "0.5"] and rows[3]["val_accuracy"] == "0.7"
    assert main(["export", "a", "--runs-dir", str(tmp_path), "--format", "json", "--out", str(tmp_path / "m.json")]) == 0
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["run_id"] == "a" and data["metrics"][1]["val_accuracy"] == 0.6


def test_export_of_an_unknown_run_is_a_clear_error(tmp_path, capsys):
    assert main(["export", "nope", "--runs-dir", str(tmp_path)]) == 2
    assert "run 'nope': not found" in capsys.readouterr().err


def test_compare_prints_results_differences_and_groups(tmp_path, capsys):
    for i, (lr, seed) in enumerate([(0.1, 0), (0.1, 1), (0.01, 0)]):
        fake_run(tmp_path, f"r{i}", losses=[1.0, 0.5 + i / 10], val_accuracy=[0.5 + i / 10], learning_rate=lr,
                 seed=seed)
    assert main(["compare", "r0", "r1", "r2", "--runs-dir", str(tmp_path), "--group-by", "learning_rate"]) == 0
    out = capsys.readouterr().out
    assert "Config fields that differ" in out and "learning_rate" in out and "seed" in out
    assert "Groups by learning_rate" in out and "0.5500" in out  # mean final loss of the lr=0.1 group
    assert main(["compare", "r0", "r2", "--runs-dir", str(tmp_path), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["learning_rate"] for r in rows] == ["0.1", "0.01"] and rows[1]["final_loss"] == "0.7"
    assert main(["compare", "r0", "r1", "--runs-dir", str(tmp_path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["field"] for d in data["differing_fields"]] == ["seed"] and len(data["curves"]["loss"]) == 2
    out_md = tmp_path / "cmp" / "c.md"
    out_md.parent.mkdir()
    assert main(["compare", "r0", "r1", "--runs-dir", str(tmp_path), "--format", "md", "--out", str(out_md)]) == 0
    assert "![loss](c-loss.png)" in out_md.read_text() and (out_md.parent / "c-loss.svg").is_file()


def test_out_into_a_missing_folder_is_refused_and_no_folder_is_made(tmp_path, capsys):
    fake_run(tmp_path, "a", losses=[1.0, 0.5])
    fake_run(tmp_path, "b", losses=[1.0, 0.4])
    for argv in (["export", "a"], ["compare", "a", "b", "--format", "md"]):
        assert main([*argv, "--runs-dir", str(tmp_path), "--out", str(tmp_path / "typo" / "x.md")]) == 2
        err = capsys.readouterr().err
        assert f"cannot write into {tmp_path / 'typo'}: no such file or directory" in err, err
        assert not (tmp_path / "typo").exists()


def test_out_through_a_symlink_writes_its_target_and_keeps_the_link_and_the_mode(tmp_path, capsys):
    fake_run(tmp_path, "a", losses=[1.0, 0.5])
    target = tmp_path / "real.csv"
    target.write_text("old\n")
    target.chmod(0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    assert main(["export", "a", "--runs-dir", str(tmp_path), "--out", str(link)]) == 0
    assert link.is_symlink() and target.read_text().startswith("step,")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    old = os.umask(0o027)
    try:
        assert main(["export", "a", "--runs-dir", str(tmp_path), "--out", str(tmp_path / "new.csv")]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.csv").stat().st_mode) == 0o640  # 0666 less the umask, not mkstemp's 0600


def test_out_to_a_pipe_writes_into_it_instead_of_replacing_it(tmp_path, capsys):
    # /dev/null and /dev/stdout behave the same way; a FIFO shows it without touching the machine's devices
    fake_run(tmp_path, "a", losses=[1.0, 0.5])
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    assert main(["export", "a", "--runs-dir", str(tmp_path), "--out", str(fifo)]) == 0
    reader.join(10)
    assert stat.S_ISFIFO(fifo.stat().st_mode) and got and got[0].startswith(b"step,")


def test_out_to_dev_stdout_through_a_pipe_writes_into_the_pipe(tmp_path):
    # /dev/stdout is a link to /proc/self/fd/1, whose target for a pipe ("pipe:[1234]") is no path to replace
    import subprocess
    import sys

    fake_run(tmp_path, "a", losses=[1.0, 0.5])
    done = subprocess.run([sys.executable, "-m", "qstore_tui", "export", "a", "--runs-dir", str(tmp_path), "--out",
                           "/dev/stdout"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("step,") and "wrote /dev/stdout (2 rows)" in done.stdout


@pytest.mark.parametrize("argv, message", [
    (["--group-by", "lr"], "'lr'"),
    (["--smoothing", "1.5"], "smoothing"),
])
def test_compare_refuses_bad_options_naming_them(tmp_path, capsys, argv, message):
    fake_run(tmp_path, "r0", losses=[1.0, 0.5])
    assert main(["compare", "r0", "--runs-dir", str(tmp_path), *argv]) == 2
    assert message in capsys.readouterr().err


def test_report_write_names_the_files_with_plots(tmp_path, capsys):
    fake_run(tmp_path, "a", losses=[1.0, 0.8, 0.6, 0.5], val_accuracy=[0.6, 0.7])
    assert main(["report", "a", "--runs-dir", str(tmp_path), "--write"]) == 0
    written = [line.split(" ", 1)[1] for line in capsys.readouterr().out.splitlines()]
    assert [w.rsplit("/", 1)[1] for w in written] == ["report.md", "report.html", "report.json", "loss.png",
                                                       "loss.svg", "accuracy.png", "accuracy.svg"]
