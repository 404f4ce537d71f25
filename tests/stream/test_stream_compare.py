"""`compare` and `report` show stream summaries side by side."""

from __future__ import annotations

import csv
import io

from stream_helpers import scripted_frames, write_video
from typer.testing import CliRunner

from endobench.cli import app
from endobench.stream.run import StreamSettings, run_stream
from endobench.stream.temporal import FilterParams

RAW = [0, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0]


def _two_streams(tmp_path):
    video = write_video(tmp_path / "clip.mp4", scripted_frames(RAW), fps=25)
    folders = []
    for name, params in (("raw", FilterParams(1, 1, 1)), ("k2n3", FilterParams(2, 3, 2))):
        _, out = run_stream(
            StreamSettings(str(video), out=tmp_path / name, label="negative",
                           temporal_filter=params, progress=False)
        )  # fmt: skip
        folders.append(out)
    return folders


def test_compare_and_report_put_streams_side_by_side(tmp_path, scripted_model):
    raw, filtered = _two_streams(tmp_path)
    runner = CliRunner()
    table = runner.invoke(app, ["compare", str(raw), str(filtered), "--format", "csv"])
    assert table.exit_code == 0, table.output
    rows = list(csv.DictReader(io.StringIO(table.stdout)))
    assert [r["stream"] for r in rows] == ["raw", "k2n3"]
    assert [r["filter k,n,m"] for r in rows] == ["1,1,1", "2,3,2"]
    # raw: 3 alarms (frames 1, 3-4, 7-9) in 0.6 s = 300 a minute; 2 of 3 ended by 2 clear
    # frames: 2 (frames 3-5, on at the 2nd positive of 1-3, off on 6; and 8-10)
    assert [r["alarms"] for r in rows] == ["3", "2"]
    assert [r["false alarms /min"] for r in rows] == ["300.00", "200.00"]
    assert rows[0]["flicker /100"] == f"{100 * 6 / 15:.1f}"

    markdown = runner.invoke(app, ["compare", str(raw), str(filtered)])
    assert markdown.exit_code == 0 and "| raw |" in markdown.stdout

    page = tmp_path / "streams.html"
    report = runner.invoke(app, ["report", str(raw), str(filtered), "--out", str(page)])
    assert report.exit_code == 0, report.output
    text = page.read_text()
    assert "Video streams side by side" in text and "k2n3" in text and "300.00" in text
