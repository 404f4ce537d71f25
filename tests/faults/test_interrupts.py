"""Ctrl-C and SIGTERM, sent to a real process: ``run`` and ``train`` finish the file in hand, mark
their output interrupted, print one line with what is done and the command that resumes, and exit
with status 130; the resumed command gives what an uninterrupted one gives."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from fault_helpers import assert_ok, invoke, leftovers, snapshot

PIPELINE = Path(__file__).resolve().parents[1] / "pipeline"


def _start_paused(args: list[str], marker: str, after: int, ready: Path) -> subprocess.Popen:
    """Start ``endobench ARGS`` in a real process that, once it has written ``after`` files whose
    name holds ``marker``, says so in ``ready`` and waits (up to a minute) for a stop request."""
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(PIPELINE)!r})
        from pipeline_tiny_model import register
        register()
        from pathlib import Path
        from endobench.stopping import stop_requested
        real, calls = Path.write_bytes, []
        def write_bytes(path, data):
            done = real(path, data)
            if {marker!r} in path.name:
                calls.append(path)
                if len(calls) == {after}:
                    Path({str(ready)!r}).write_text("ready")
                    waited = time.monotonic()
                    while not stop_requested() and time.monotonic() - waited < 60:
                        time.sleep(0.02)
            return done
        Path.write_bytes = write_bytes
        from endobench.cli import main
        main({args!r})
        """
    )
    return subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _signal_when_ready(process: subprocess.Popen, ready: Path, signum: int) -> tuple[str, str]:
    deadline = time.monotonic() + 300
    while not ready.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signum)
    out, err = process.communicate(timeout=300)
    return out, err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_says_so_and_resumes(run_args, pairs, tmp_path, signum):
    assert_ok(invoke(*run_args(pairs, tmp_path / "whole")))
    out = tmp_path / "out"
    # Written in the loop's thread (--writers 0): the stop comes after exactly two images.
    args = [str(arg) for arg in run_args(pairs, out, "r", "--batch-size", "1", "--writers", "0")]
    ready = tmp_path / "ready"
    process = _start_paused(args, "_mask.", 2, ready)
    _, err = _signal_when_ready(process, ready, signum)
    assert process.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    done = 2
    assert lines[0].startswith("Interrupted: 2 of 4 images done; resume with: endobench run ")
    resume = lines[0].split("resume with: ")[1]
    assert resume.startswith("endobench run ") and resume.endswith(" --resume")
    run_json = json.loads((out / "r" / "run.json").read_text())
    assert run_json["status"] == "interrupted"
    masks = [k for k in snapshot(out / "r" / "EndoCV2021") if k.endswith("_mask.jpg")]
    assert len(masks) == done and leftovers(out) == []
    assert_ok(invoke(*resume.split()[1:]))
    assert json.loads((out / "r" / "run.json").read_text())["status"] == "complete"
    whole = (tmp_path / "whole" / "r" / "scores").glob("*.csv")
    resumed = (out / "r" / "scores").glob("*.csv")
    assert [p.read_text() for p in sorted(whole)] == [p.read_text() for p in sorted(resumed)]
