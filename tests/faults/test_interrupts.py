"""Ctrl-C and SIGTERM, sent to a real process: ``run`` and ``train`` finish the file in hand, mark
their output interrupted, print one line with what is done and the command that resumes, and exit
with status 130; the resumed command gives what an uninterrupted one gives."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from fault_helpers import assert_ok, invoke, leftovers, snapshot
from pipeline_tiny_model import register

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


def _train_args(pairs: Path, out: Path) -> list[str]:
    register()
    args = ["train", "--model", "pipeline_tiny", "--data", pairs, "--val-fraction", "0.25"]
    args += ["--size", "64", "--epochs", "2", "--batch-size", "1", "--scales", "1"]
    args += ["--workers", "0", "--threads", "1", "--device", "cpu", "--out", out]
    return [str(arg) for arg in args]


def test_interrupted_training_saves_the_batch_in_hand_and_resumes_exactly(pairs, tmp_path):
    from endobench.models import load_checkpoint

    assert_ok(invoke(*_train_args(pairs, tmp_path / "whole")))
    out = tmp_path / "out"
    ready = tmp_path / "ready"
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(PIPELINE)!r})
        from pipeline_tiny_model import register
        register()
        from pathlib import Path
        import endobench.train.epoch as epoch
        from endobench.stopping import stop_requested
        real, calls = epoch.train_batch, []
        def train_batch(*args, **kwargs):
            done = real(*args, **kwargs)
            calls.append(1)
            if len(calls) == 4:  # epoch 2, batch 1 (3 training images a batch each)
                Path({str(ready)!r}).write_text("ready")
                waited = time.monotonic()
                while not stop_requested() and time.monotonic() - waited < 60:
                    time.sleep(0.02)
            return done
        epoch.train_batch = train_batch
        from endobench.cli import main
        main({_train_args(pairs, out)!r})
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _, err = _signal_when_ready(process, ready, signal.SIGINT)
    assert process.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(
        "Interrupted: 1 of 2 epochs done (64px: epoch 2 stopped and saved after batch 1); "
        "resume with: endobench train "
    )
    status = json.loads((out / "status.json").read_text())
    assert status == {"status": "interrupted", "epochs_done": 1, "epochs": 2}
    resume = lines[0].split("resume with: ")[1]
    assert_ok(invoke(*resume.split()[1:]))
    assert json.loads((out / "status.json").read_text())["status"] == "complete"
    whole, _ = load_checkpoint(tmp_path / "whole" / "best.safetensors")
    resumed, _ = load_checkpoint(out / "best.safetensors")
    assert whole.keys() == resumed.keys()
    assert all(bool((whole[k] == resumed[k]).all()) for k in whole)


def test_interrupted_calibration_writes_nothing_and_says_so(pairs, tiny_weights, tmp_path):
    register()
    out = tmp_path / "calibrated.safetensors"
    args = ["calibrate", tiny_weights, "--train-data", tmp_path / "train", "--val-data", pairs]
    args = [str(a) for a in [*args, "--device", "cpu", "--batch-size", "1", "--out", out]]
    shutil.copytree(pairs, tmp_path / "train")
    for folder in ("images", "masks"):  # other names: training and validation stay disjoint
        for path in (tmp_path / "train" / folder).iterdir():
            path.rename(path.with_name("t" + path.name))
    ready = tmp_path / "ready"
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(PIPELINE)!r})
        from pipeline_tiny_model import register
        register()
        from pathlib import Path
        import endobench.data as data
        from endobench.stopping import stop_requested
        real, calls = data.read_image, []
        def read_image(path):
            calls.append(path)
            if len(calls) == 2:
                Path({str(ready)!r}).write_text("ready")
                waited = time.monotonic()
                while not stop_requested() and time.monotonic() - waited < 60:
                    time.sleep(0.02)
            return real(path)
        data.read_image = read_image
        from endobench.cli import main
        main({args!r})
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _, err = _signal_when_ready(process, ready, signal.SIGTERM)
    assert process.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0] == (
        "Interrupted: 2 of 4 frames done (predicting validation frames); "
        "nothing was written: run the command again"
    )
    assert not out.exists() and leftovers(tmp_path) == []
