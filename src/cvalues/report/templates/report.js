(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var PAGE = 200;

  function sortValue(td) {
    var v = td.getAttribute("data-sort");
    if (v !== null && v !== "") { return { num: true, v: parseFloat(v) }; }
    return { num: false, v: td.textContent.trim().toLowerCase() };
  }

  function makeSortable(table) {
    var heads = table.querySelectorAll("thead th");
    heads.forEach(function (th, col) {
      th.addEventListener("click", function () {
        var asc = !th.classList.contains("asc");
        heads.forEach(function (h) { h.classList.remove("asc", "desc"); });
        th.classList.add(asc ? "asc" : "desc");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = sortValue(a.cells[col]), y = sortValue(b.cells[col]);
          var r;
          if (x.num && y.num) { r = x.v - y.v; }
          else if (x.num !== y.num) { r = x.num ? -1 : 1; }
          else { r = x.v < y.v ? -1 : x.v > y.v ? 1 : 0; }
          return asc ? r : -r;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }
  document.querySelectorAll("table.sortable").forEach(makeSortable);

  var select = document.getElementById("answer-set");
  var search = document.getElementById("answer-search");
  var table = document.getElementById("answer-table");
  var more = document.getElementById("answer-more");
  var state = { set: null, filter: null, rows: [], shown: 0 };

  function text(value) {
    if (value === null || value === undefined) { return ""; }
    if (typeof value === "boolean") { return value ? "yes" : "no"; }
    return String(value);
  }

  function cellFor(column, value) {
    var td = document.createElement("td");
    var content = column === "prompt" ? (data.prompts[value] || "") : text(value);
    td.setAttribute("data-sort", typeof value === "number" ? String(value) : "");
    if (content.length > 60) {
      var div = document.createElement("div");
      div.className = "text";
      div.textContent = content;
      div.title = "click to expand";
      div.addEventListener("click", function () { div.classList.toggle("open"); });
      td.appendChild(div);
    } else {
      td.textContent = content;
    }
    return td;
  }

  function matches(columns, row) {
    if (state.filter) {
      for (var key in state.filter) {
        var i = columns.indexOf(key);
        if (i >= 0 && text(row[i]) !== text(state.filter[key])) { return false; }
      }
    }
    var q = search.value.trim().toLowerCase();
    if (!q) { return true; }
    return row.some(function (v, i) {
      var t = columns[i] === "prompt" ? (data.prompts[v] || "") : text(v);
      return t.toLowerCase().indexOf(q) >= 0;
    });
  }

  function renderMore() {
    var ev = data.evidence[state.set];
    var body = table.tBodies[0];
    var correct = ev.columns.indexOf("correct");
    var stop = Math.min(state.rows.length, state.shown + PAGE);
    for (var k = state.shown; k < stop; k++) {
      var row = state.rows[k];
      var tr = document.createElement("tr");
      if (correct >= 0) { tr.className = row[correct] ? "right" : "wrong"; }
      ev.columns.forEach(function (c, i) { tr.appendChild(cellFor(c, row[i])); });
      body.appendChild(tr);
    }
    state.shown = stop;
    more.hidden = state.shown >= state.rows.length;
    document.getElementById("answer-count").textContent =
      state.rows.length + " rows" + (state.shown < state.rows.length ? " (" + state.shown + " shown)" : "");
  }

  function render() {
    var ev = data.evidence[state.set];
    var head = table.tHead;
    head.textContent = "";
    table.tBodies[0].textContent = "";
    state.rows = [];
    state.shown = 0;
    if (!ev) { document.getElementById("answer-count").textContent = ""; return; }
    var tr = document.createElement("tr");
    ev.columns.forEach(function (c) {
      var th = document.createElement("th");
      th.textContent = c;
      tr.appendChild(th);
    });
    head.appendChild(tr);
    makeSortable(table);
    state.rows = ev.rows.filter(function (row) { return matches(ev.columns, row); });
    var f = document.getElementById("answer-filter");
    f.textContent = state.filter ? "only " + Object.keys(state.filter).map(function (k) {
      return k + " = " + text(state.filter[k]);
    }).join(", ") : "";
    renderMore();
  }

  function show(setId, filter) {
    state.set = setId;
    state.filter = filter;
    select.value = setId;
    render();
    document.getElementById("answers").scrollIntoView();
  }

  document.addEventListener("click", function (event) {
    var a = event.target.closest ? event.target.closest("a[data-set]") : null;
    if (!a) { return; }
    event.preventDefault();
    var filter = a.getAttribute("data-filter");
    show(a.getAttribute("data-set"), filter ? JSON.parse(filter) : null);
  });
  select.addEventListener("change", function () { state.filter = null; state.set = select.value; render(); });
  search.addEventListener("input", render);
  more.addEventListener("click", renderMore);
})();
