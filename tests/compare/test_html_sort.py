"""The one sort script of the HTML pages, on a leaderboard table in headless Chromium."""

from __future__ import annotations

from browser import run_page

from endobench.leaderboard.render import _SCRIPT

PAGE = """<!DOCTYPE html><html><head><title>t</title></head><body>
<table class="lb"><thead><tr><th>Model</th><th>Dice</th></tr></thead><tbody>
<tr><td data-v="b">b</td><td data-v="0.9">0.9</td></tr>
<tr><td data-v="a">a</td><td data-v="-1">n/a</td></tr>
<tr><td data-v="c">c</td><td data-v="10">10</td></tr>
</tbody></table><script>SCRIPT</script></body></html>"""

CHECK = """<script>
window.addEventListener('load', function () {
  var table = document.querySelector('table.lb');
  function column(c) {
    return Array.prototype.map.call(table.tBodies[0].rows, function (r) {
      return r.cells[c].getAttribute('data-v');
    });
  }
  var heads = table.querySelectorAll('th');
  heads[1].click();
  var up = column(1), order = heads[1].getAttribute('data-order');
  heads[1].click();
  var down = column(1);
  heads[0].click();
  var names = column(0);
  var pre = document.createElement('pre');
  pre.id = 'harness-result';
  pre.textContent = JSON.stringify({errors: window.__errors, up: up, order: order, down: down,
                                    names: names, dice_order: heads[1].getAttribute('data-order')});
  document.body.appendChild(pre);
});
</script>"""


def test_leaderboard_tables_sort_numbers_as_numbers_and_text_as_text(tmp_path):
    result = run_page(PAGE.replace("SCRIPT", _SCRIPT), CHECK, tmp_path)
    assert result["up"] == ["-1", "0.9", "10"] and result["order"] == "asc"
    assert result["down"] == ["10", "0.9", "-1"]
    assert result["names"] == ["a", "b", "c"] and result["dice_order"] is None
