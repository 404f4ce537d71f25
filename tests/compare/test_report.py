"""``endobench report``: a self-contained offline HTML file, checked as text and in headless Chromium."""

from __future__ import annotations

import html
import json
import re
import shutil

import pytest
from browser import run_page
from report_runs import make_report_runs
from typer.testing import CliRunner

from endobench.cli import app
from endobench.compare.perimage import load_runs
from endobench.compare.report import build_report
from endobench.compare.stats import StatsSettings

FPS = {"grown": 30.0, "shrunk": 12.0, "shifted": 50.0}
RUNS = ("grown", "shrunk", "shifted")


@pytest.fixture(scope="module")
def report_runs(sample_root, tmp_path_factory):
    return make_report_runs(tmp_path_factory.mktemp("report_runs"), sample_root, FPS)


@pytest.fixture(scope="module")
def report_file(report_runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    build_report(report_runs, out, settings=StatsSettings(n_resamples=200), worst=3, disagree=2)
    return out


def test_report_is_self_contained_and_complete(report_runs, report_file):
    text = report_file.read_text(encoding="utf-8")
    sources = re.findall(r'(?:src|href)="([^"#]*)"', text)
    assert sources and all(s.startswith("data:") for s in sources)
    assert "<link" not in text and "<script src" not in text and "@import" not in text
    # 20 sample images (10 Kvasir + 10 ClinicDB), each with image, truth and three predictions.
    body = text.split('<table id="per-image">')[1].split("</table>")[0]
    rows = re.findall(r'<tr data-set="([^"]+)" data-image="([^"]+)">', body)
    assert len(rows) == 20 and {s for s, _ in rows} == {"kvasir", "clinicdb"}
    assert body.count('<img class="thumb" src="data:image/jpeg;base64,') == 20 * 5
    runs = load_runs(report_runs)
    grown = {
        n: v for n, v in zip(runs[0].images["kvasir"], runs[0].sets["kvasir"]["dice"], strict=True)
    }
    first = rows[0][1] if rows[0][0] == "kvasir" else next(i for s, i in rows if s == "kvasir")
    assert f'data-v="{grown[first]}"' in body
    for heading in (
        "Summary with confidence intervals",
        "Set-level scores: toolkit and standard metrics",
        "Dot-and-box plots per metric",
        "Significance maps and blob plots",
        "Dice vs FPS (Pareto front)",
        "Worst 3 images of each run (Dice)",
        "Images where two runs disagree most (top 2)",
    ):
        assert f"<h2>{html.escape(heading)}</h2>" in text
    assert text.count("data:image/svg+xml;base64,") == 7 + 2 * 2 + 2
    worst = text.split("<h2>Worst 3 images")[1].split("<h2>")[0]
    assert worst.count("<figure>") == 3 * 3 * 2
    lowest = min(grown, key=lambda n: (grown[n], n))
    assert f"{lowest}  Dice {grown[lowest]:.3f}" in worst.split("kvasir: shrunk")[0]
    summary = text.split("<h2>Summary with confidence intervals")[1].split("<h2>")[0]
    assert re.search(r"<td>0\.\d{3} \[0\.\d{3}, 0\.\d{3}\]</td>", summary)


def test_report_cli_refuses_to_overwrite(report_runs, tmp_path):
    out = tmp_path / "r.html"
    args = ["report", *map(str, report_runs), "--out", str(out), "--resamples", "100"]
    first = CliRunner().invoke(app, args + ["--worst", "1", "--disagree", "1"])
    assert first.exit_code == 0, first.output
    assert out.read_text().startswith("<!DOCTYPE html>")
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "exists" in again.output


_CHECK = """<script>
window.addEventListener('load', function () {
  var table = document.getElementById('per-image');
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var col = heads.findIndex(function (h) { return h.textContent.indexOf('Dice grown') === 0; });
  function column() {
    return Array.prototype.map.call(table.tBodies[0].rows, function (r) {
      return parseFloat(r.cells[col].getAttribute('data-v'));
    });
  }
  heads[col].click();
  var ascending = column();
  heads[col].click();
  var descending = column();
  var select = document.getElementById('set-filter');
  select.value = 'kvasir';
  select.dispatchEvent(new Event('change'));
  var visible = Array.prototype.filter.call(table.tBodies[0].rows, function (r) {
    return r.style.display !== 'none';
  }).length;
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
  var result = {errors: window.__errors, ascending: ascending, descending: descending,
                visible: visible, images: images.length,
                broken: broken.map(function (i) { return i.alt; }),
                shown: document.getElementById('shown-count').textContent};
  var pre = document.createElement('pre');
  pre.id = 'harness-result';
  pre.textContent = JSON.stringify(result);
  document.body.appendChild(pre);
});
</script>"""


def test_report_in_headless_chromium(report_file, tmp_path):
    result = run_page(report_file.read_text(encoding="utf-8"), _CHECK, tmp_path)
    assert len(result["ascending"]) == 20
    assert result["ascending"] == sorted(result["ascending"])
    assert result["descending"] == sorted(result["ascending"], reverse=True)
    assert result["visible"] == 10 and result["shown"] == "10 of 20 images shown"
    assert result["images"] > 100 and result["broken"] == []


def test_images_that_moved_are_named_not_fatal(report_runs, tmp_path):
    from endobench.compare.report_images import collect_thumbs

    copies = []
    for run in report_runs:
        copy = tmp_path / run.name
        shutil.copytree(run, copy)
        copies.append(copy)
    manifest = json.loads((copies[0] / "manifest.json").read_text())
    manifest["kvasir"][0]["file"] = str(tmp_path / "gone.jpg")
    (copies[0] / "manifest.json").write_text(json.dumps(manifest))
    thumbs, problems = collect_thumbs(copies, ["kvasir"], height=32)
    name = manifest["kvasir"][0]["name"]
    assert len(thumbs) == 9 and ("kvasir", name) not in thumbs
    assert len(problems) == 1 and problems[0].startswith(f"kvasir/{name}: ")
    assert "gone.jpg" in problems[0]
