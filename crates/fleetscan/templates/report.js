// fleetscan report: sorting and filtering of the tables. Reads the page's
// text only (textContent), never builds HTML, and its hash is pinned by the
// page's Content Security Policy.
"use strict";
(function () {
  function cellValue(row, column, numeric) {
    var cell = row.cells[column];
    var text = cell ? cell.textContent.trim() : "";
    if (numeric) {
      var number = parseFloat(text);
      return isNaN(number) ? -Infinity : number;
    }
    return text.toLowerCase();
  }

  function makeSortable(table) {
    var headers = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(headers, function (header, column) {
      var button = header.querySelector("button.sort");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var ascending = header.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(headers, function (other) { other.removeAttribute("aria-sort"); });
        header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var numeric = header.hasAttribute("data-numeric");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var left = cellValue(a, column, numeric);
          var right = cellValue(b, column, numeric);
          var order = left < right ? -1 : left > right ? 1 : 0;
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  }

  function updateCount(target, shown, total) {
    var counter = document.querySelector('[data-count-for="' + target.id + '"]');
    if (counter) {
      counter.textContent = shown === total ? total + " rows" : shown + " of " + total + " rows";
    }
  }

  function applyFilter(target, query) {
    var terms = query.toLowerCase().split(/\s+/).filter(function (term) { return term.length > 0; });
    var rows = target.querySelectorAll("[data-filter-row]");
    var shown = 0;
    Array.prototype.forEach.call(rows, function (row) {
      var text = row.textContent.toLowerCase() + " " + (row.getAttribute("title") || "").toLowerCase();
      Array.prototype.forEach.call(row.querySelectorAll("[title]"), function (titled) {
        text += " " + titled.getAttribute("title").toLowerCase();
      });
      var match = terms.every(function (term) { return text.indexOf(term) !== -1; });
      row.hidden = !match;
      if (match) { shown += 1; }
    });
    // In the coverage map, an OU group with nothing left to show is hidden
    // too, and one with matches is opened.
    Array.prototype.forEach.call(target.querySelectorAll("[data-filter-group]"), function (group) {
      var visible = group.querySelector("[data-filter-row]:not([hidden])") !== null;
      var groupMatches = terms.length > 0 && terms.every(function (term) {
        var summary = group.querySelector("summary");
        return summary && summary.textContent.toLowerCase().indexOf(term) !== -1;
      });
      if (groupMatches) {
        Array.prototype.forEach.call(group.querySelectorAll("[data-filter-row]"), function (row) {
          if (row.hidden) { row.hidden = false; shown += 1; }
        });
        visible = true;
      }
      group.hidden = !visible;
      if (visible && terms.length > 0) { group.open = true; }
    });
    updateCount(target, shown, rows.length);
  }

  Array.prototype.forEach.call(document.querySelectorAll("table[data-sortable]"), makeSortable);
  Array.prototype.forEach.call(document.querySelectorAll("input[data-filter-for]"), function (input) {
    var target = document.getElementById(input.getAttribute("data-filter-for"));
    if (!target) { return; }
    input.addEventListener("input", function () { applyFilter(target, input.value); });
    applyFilter(target, input.value);
  });
})();
