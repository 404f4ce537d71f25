"""The one click-to-sort script of endobench's static HTML pages (report and leaderboard).

Cells carry their sort value in ``data-v``: numbers sort as numbers, anything else as text;
a second click on a header reverses the order, and the header shows the direction in its
``data-order`` attribute.
"""

SORT_FUNCTION = """
function sortableTable(table, heads, onlyMarked) {
  Array.prototype.forEach.call(heads, function (th, col) {
    if (onlyMarked && !th.classList.contains('sortable')) { return; }
    th.addEventListener('click', function () {
      var body = table.tBodies[0];
      var asc = th.getAttribute('data-order') !== 'asc';
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('data-order'); });
      th.setAttribute('data-order', asc ? 'asc' : 'desc');
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute('data-v'), y = b.cells[col].getAttribute('data-v');
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
}
"""
