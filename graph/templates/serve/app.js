// The query page: pick a named query, run it against /sparql, show the result as a table.
// Every value from the server is shown with textContent: nothing from the data becomes markup.
(function () {
  "use strict";
  var named = JSON.parse(document.getElementById("named-queries").textContent);
  var byName = {};
  named.forEach(function (q) { byName[q.name] = q; });
  var select = document.getElementById("named");
  var text = document.getElementById("query");
  var results = document.getElementById("results");
  var status = document.getElementById("status");

  select.addEventListener("change", function () {
    if (byName[select.value]) { text.value = byName[select.value].query; }
  });

  function cell(term) {
    var td = document.createElement("td");
    if (!term) { return td; }
    if (term.type === "uri" && term.value.indexOf("https://w3id.org/dkg/id/") === 0) {
      var a = document.createElement("a");
      var id = term.value.slice("https://w3id.org/dkg/id/".length);
      a.href = "/entity/" + encodeURIComponent(id);
      a.textContent = id;
      td.appendChild(a);
    } else {
      td.textContent = term.value + (term["xml:lang"] ? " @" + term["xml:lang"] : "");
    }
    return td;
  }

  function show(data) {
    results.textContent = "";
    if (typeof data.boolean === "boolean") {
      results.textContent = data.boolean ? "yes" : "no";
      return;
    }
    var table = document.createElement("table");
    var head = table.createTHead().insertRow();
    data.head.vars.forEach(function (v) {
      var th = document.createElement("th"); th.textContent = v; head.appendChild(th);
    });
    var body = table.createTBody();
    data.results.bindings.forEach(function (b) {
      var tr = body.insertRow();
      data.head.vars.forEach(function (v) { tr.appendChild(cell(b[v])); });
    });
    results.appendChild(table);
    var n = data.results.bindings.length;
    status.textContent = n + (n === 1 ? " row" : " rows");
  }

  document.getElementById("form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    status.textContent = "running…";
    fetch("/sparql", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded",
                 "Accept": "application/sparql-results+json" },
      body: new URLSearchParams({ query: text.value })
    }).then(function (r) {
      if (!r.ok) { return r.text().then(function (t) { throw new Error(t); }); }
      var ct = r.headers.get("Content-Type") || "";
      if (ct.indexOf("json") < 0) {
        return r.text().then(function (t) { results.textContent = ""; var pre = document.createElement("pre"); pre.textContent = t; results.appendChild(pre); status.textContent = ""; });
      }
      return r.json().then(show);
    }).catch(function (err) {
      results.textContent = "";
      var p = document.createElement("p"); p.className = "error"; p.textContent = err.message;
      results.appendChild(p);
      status.textContent = "";
    });
  });
})();
