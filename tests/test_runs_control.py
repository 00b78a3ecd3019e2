"""The control file of a run directory: what is refused (said, never obeyed, never blocking), and a viewer's command
after a refused file still reaching the session."""

from __future__ import annotations

import json
import os
import time

import pytest

from engine.runs.control import CONTROL_FILE, ControlChannel, ControlRefused, read_request, send_command


def _write(run_dir, body: bytes, mode: int = 0o600) -> None:
    path = run_dir / CONTROL_FILE
    path.write_bytes(body)
    os.chmod(path, mode)


def test_a_fifo_or_a_folder_in_its_place_is_refused_at_once_not_read():
    """A FIFO blocked open() on the event loop: training stopped and SIGINT / SIGTERM went unanswered."""
    import tempfile
    from pathlib import Path

    run_dir = Path(tempfile.mkdtemp())
    os.mkfifo(run_dir / CONTROL_FILE, 0o600)
    t0 = time.monotonic()
    with pytest.raises(ControlRefused, match="control.json: not a regular file"):
        read_request(run_dir)
    assert time.monotonic() - t0 < 1.0
    (run_dir / CONTROL_FILE).unlink()
    (run_dir / CONTROL_FILE).mkdir()  # a folder: os.read's IsADirectoryError ended the watcher task unsaid
    with pytest.raises(ControlRefused, match="not a regular file"):
        read_request(run_dir)


@pytest.mark.parametrize("body, message", [
    (b'{"seq": true, "command": "stop"}', "field 'seq' must be an integer, got 'True'"),  # obeyed as seq 1
    (b'{"seq": 1, "command": "explode"}', "field 'command' must be one of pause, resume, stop, got 'explode'"),
    (json.dumps({"seq": 1, "command": "stop", "pad": "x" * 5000}).encode(), "too large for a control request"),
])
def test_malformed_requests_are_refused_naming_what_is_wrong(tmp_path, body, message):
    _write(tmp_path, body)
    with pytest.raises(ControlRefused, match=message):
        read_request(tmp_path)


def test_a_command_sent_after_a_refused_file_is_obeyed(tmp_path):
    """After four requests a refused file (mode 666) left the viewer no seq to follow: it wrote seq 1, which the
    session, at seq 4, ignored without a word, so `s` in the viewer did nothing."""
    obeyed, refused = [], []
    channel = ControlChannel(tmp_path, {c: (lambda c=c: obeyed.append(c)) for c in ("pause", "resume", "stop")},
                             refused.append)
    for command in ("pause", "resume", "pause", "resume"):
        send_command(tmp_path, command)
        channel.poll()
    os.chmod(tmp_path / CONTROL_FILE, 0o666)
    channel.poll()
    assert refused and "writable by group or others" in refused[0]
    send_command(tmp_path, "stop")
    channel.poll()
    assert obeyed == ["pause", "resume", "pause", "resume", "stop"]
