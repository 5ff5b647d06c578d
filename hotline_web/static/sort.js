// Click a column header of a table.sortable to sort by it (numbers and percentages numerically).
document.addEventListener("click", function (event) {
  var th = event.target.closest("table.sortable th");
  if (!th) return;
  var table = th.closest("table"), index = Array.prototype.indexOf.call(th.parentNode.children, th);
  var rows = Array.prototype.slice.call(table.querySelectorAll("tr")).slice(1);
  var descending = th.getAttribute("aria-sort") !== "descending";
  var value = function (row) {
    var text = (row.children[index] || {}).textContent || "";
    var number = parseFloat(text.replace(/[%,]/g, ""));
    return isNaN(number) ? text.trim() : number;
  };
  rows.sort(function (a, b) {
    var x = value(a), y = value(b);
    var order = (typeof x === "number" && typeof y === "number") ? x - y : String(x).localeCompare(String(y));
    return descending ? -order : order;
  });
  table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
  th.setAttribute("aria-sort", descending ? "descending" : "ascending");
  rows.forEach(function (row) { row.parentNode.appendChild(row); });
});

// A link marked data-print prints the page (no inline script: the CSP forbids it).
document.addEventListener("click", function (event) {
  var link = event.target.closest("[data-print]");
  if (!link) return;
  event.preventDefault();
  window.print();
});
