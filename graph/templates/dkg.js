// The dkg view's behaviour: filters, search, and the side panel.
// Data arrives as JSON in #dkg-data and is shown with textContent only, never innerHTML, so text
// from the sources (labels, quotes, descriptions) can never become markup or script.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("dkg-data").textContent);
  const ui = data.ui;
  const nodes = new vis.DataSet(data.nodes);
  const edges = new vis.DataSet(data.edges);
  const byId = new Map(data.nodes.map((n) => [n.id, n]));
  const hiddenStandings = new Set((data.hidden && data.hidden.standings) || []);
  const state = {
    types: new Set(data.legend.types.map((t) => t.type)),
    standings: new Set(data.legend.standings.map((s) => s.standing).filter((s) => !hiddenStandings.has(s))),
    kinds: new Set(data.legend.kinds.map((k) => k.kind)),
    documents: new Set(Object.keys(data.documents)),
  };
  let visibleNodes = new Set();
  let visibleEdges = new Set();
  let nodesView = null;
  let edgesView = null;
  let network = null;

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function safeUrl(url) {
    return typeof url === "string" && /^https?:\/\//i.test(url) ? url : null;
  }

  function link(url, text) {
    const ok = safeUrl(url);
    if (!ok) return el("span", text || url);
    const a = el("a", text || ok);
    a.href = ok;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  // --- Filters ----------------------------------------------------------------------------------

  function recompute() {
    const allDocs = state.documents.size === Object.keys(data.documents).length;
    const typeOk = (id) => state.types.has(byId.get(id).type);
    visibleEdges = new Set();
    const touched = new Set();
    edges.forEach((e) => {
      const docOk = e.documents.length === 0 ? allDocs : e.documents.some((d) => state.documents.has(d));
      if (state.standings.has(e.standing) && state.kinds.has(e.kind) && docOk && typeOk(e.from) && typeOk(e.to)) {
        visibleEdges.add(e.id);
        touched.add(e.from);
        touched.add(e.to);
      }
    });
    visibleNodes = new Set();
    nodes.forEach((n) => {
      if (!state.types.has(n.type)) return;
      // With some documents unticked, show only what the ticked documents say something about.
      if (!allDocs && !touched.has(n.id) && !factInDocs(n.id)) return;
      visibleNodes.add(n.id);
    });
    if (nodesView) {
      nodesView.refresh();
      edgesView.refresh();
    }
    const status = document.getElementById("status");
    status.textContent = visibleNodes.size + " / " + nodes.length + " · " + visibleEdges.size + " / " + edges.length + " " + ui.shown;
  }

  function factInDocs(id) {
    const facts = (data.details[id] && data.details[id].facts) || [];
    return facts.some((f) => f.sources.some((s) => state.documents.has(s.document)));
  }

  const glyphs = { dot: "●", square: "■", diamond: "◆", triangle: "▲", triangleDown: "▼", star: "★", hexagon: "⬢" };

  function lineGlyph(dashes, colour) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("width", "28");
    svg.setAttribute("height", "10");
    const line = document.createElementNS(ns, "line");
    line.setAttribute("x1", "1");
    line.setAttribute("y1", "5");
    line.setAttribute("x2", "27");
    line.setAttribute("y2", "5");
    line.setAttribute("stroke", colour);
    line.setAttribute("stroke-width", "2");
    if (Array.isArray(dashes)) line.setAttribute("stroke-dasharray", dashes.join(" "));
    svg.appendChild(line);
    return svg;
  }

  function checkbox(container, set, value, text, glyph, count, name) {
    const label = el("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = set.has(value);
    box.dataset.filter = name;
    box.dataset.value = value;
    box.addEventListener("change", () => {
      if (box.checked) set.add(value);
      else set.delete(value);
      recompute();
    });
    label.appendChild(box);
    if (glyph) label.appendChild(glyph);
    label.appendChild(el("span", text));
    label.appendChild(el("span", count, "count"));
    container.appendChild(label);
  }

  function buildFilters() {
    const types = document.getElementById("filter-types");
    for (const t of data.legend.types) {
      const g = el("span", glyphs[t.shape] || "●", "glyph");
      g.style.color = t.color;
      checkbox(types, state.types, t.type, t.label, g, t.count, "type");
    }
    const standings = document.getElementById("filter-standings");
    for (const s of data.legend.standings) {
      checkbox(standings, state.standings, s.standing, ui[s.standing], lineGlyph(s.dashes, "#555"), s.count, "standing");
    }
    if (hiddenStandings.size) standings.appendChild(el("p", ui.inferred_hidden, "note"));
    const kinds = document.getElementById("filter-kinds");
    for (const k of data.legend.kinds) {
      checkbox(kinds, state.kinds, k.kind, ui[k.kind], lineGlyph(false, k.color), k.count, "kind");
    }
    const docs = document.getElementById("filter-documents");
    for (const [id, d] of Object.entries(data.documents)) {
      const count = data.edges.filter((e) => e.documents.includes(id)).length;
      checkbox(docs, state.documents, id, d.label + (d.date ? " (" + d.date + ")" : ""), null, count, "document");
    }
  }

  // --- Side panel -------------------------------------------------------------------------------

  function nodeLabel(id) {
    return data.details[id] ? data.details[id].label : id;
  }

  function nodeButton(id) {
    const b = el("button", nodeLabel(id));
    b.type = "button";
    b.className = "node-link";
    b.addEventListener("click", () => select(id));
    return b;
  }

  function sourcesList(sources) {
    const ul = el("ul");
    for (const s of sources) {
      const li = el("li");
      if (s.quote) li.appendChild(el("blockquote", "“" + s.quote + "”"));
      const meta = el("div", null, "meta");
      const doc = data.documents[s.document];
      meta.appendChild(el("span", (doc ? doc.label : s.document) + (s.locator ? ", " + s.locator : "")));
      for (const url of (doc && doc.links) || []) {
        meta.appendChild(el("span", " · "));
        meta.appendChild(link(url));
      }
      li.appendChild(meta);
      ul.appendChild(li);
    }
    return ul;
  }

  function claimItem(edge, id) {
    const d = data.edgeDetails[edge.id];
    const li = el("li");
    const head = el("div");
    if (d.from === id) {
      head.appendChild(el("span", "→ " + d.relation + " → ", "kind-" + d.kind));
      head.appendChild(nodeButton(d.to));
    } else if (d.to === id) {
      head.appendChild(nodeButton(d.from));
      head.appendChild(el("span", " → " + d.relation + " →", "kind-" + d.kind));
    } else {
      head.appendChild(nodeButton(d.from));
      head.appendChild(el("span", " → " + d.relation + " → ", "kind-" + d.kind));
      head.appendChild(nodeButton(d.to));
    }
    li.appendChild(head);
    let meta = ui[d.standing] || d.standing;
    if (d.via) meta += " · " + ui.via + " " + d.via;
    if (d.when) meta += " · " + d.when;
    li.appendChild(el("div", meta, "meta standing-" + d.standing));
    for (const r of d.rationale) li.appendChild(el("div", ui.rationale + ": " + r, "meta"));
    li.appendChild(sourcesList(d.sources));
    return li;
  }

  function panel() {
    const body = document.getElementById("panel-body");
    body.replaceChildren();
    document.getElementById("panel").hidden = false;
    return body;
  }

  function showNode(id) {
    const d = data.details[id];
    if (!d) return;
    const body = panel();
    body.appendChild(el("h2", d.label));
    body.appendChild(el("p", d.type + " · " + id, "type"));
    if (d.uncovered) body.appendChild(el("p", ui.uncovered, "uncovered"));
    if (d.description) body.appendChild(el("p", d.description));
    if (d.aliases.length) body.appendChild(el("p", ui.aliases + ": " + d.aliases.join(", "), "meta"));
    if (d.links.length) {
      const p = el("p", ui.links + ": ", "meta");
      d.links.forEach((u, i) => {
        if (i) p.appendChild(el("span", " · "));
        p.appendChild(link(u));
      });
      body.appendChild(p);
    }
    if (d.facts.length) {
      body.appendChild(el("h3", ui.facts));
      const ul = el("ul");
      for (const f of d.facts) {
        const li = el("li");
        const prefix = f.kind === "negated" ? ui.not + ": " : "";
        const suffix = f.kind === "modal" ? " (" + f.modality + ")" : "";
        li.appendChild(el("div", prefix + f.relation + ": " + f.value + suffix, "kind-" + f.kind));
        li.appendChild(el("div", ui[f.standing] || f.standing, "meta standing-" + f.standing));
        li.appendChild(sourcesList(f.sources));
        ul.appendChild(li);
      }
      body.appendChild(ul);
    }
    const mine = edges.get({ filter: (e) => e.from === id || e.to === id });
    if (mine.length) {
      body.appendChild(el("h3", ui.claims + " (" + mine.length + ")"));
      const ul = el("ul");
      for (const e of mine) ul.appendChild(claimItem(e, id));
      body.appendChild(ul);
    }
  }

  function showEdge(eid) {
    const e = edges.get(eid);
    if (!e) return;
    const body = panel();
    body.appendChild(el("h2", data.edgeDetails[eid].relation));
    const ul = el("ul");
    ul.appendChild(claimItem(e, null));
    body.appendChild(ul);
  }

  // --- Search -----------------------------------------------------------------------------------

  function search(text) {
    const q = text.trim().toLowerCase();
    if (!q) return [];
    const scored = [];
    for (const n of data.nodes) {
      let best = 3;
      for (const s of n.search) {
        if (s === q) best = Math.min(best, 0);
        else if (s.startsWith(q)) best = Math.min(best, 1);
        else if (s.includes(q)) best = Math.min(best, 2);
      }
      if (best < 3) scored.push([best, n.label.toLowerCase(), n.id]);
    }
    scored.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    return scored.map((s) => s[2]);
  }

  function select(id) {
    const n = byId.get(id);
    if (!n) return;
    if (!visibleNodes.has(id)) {
      state.types.add(n.type);
      state.documents = new Set(Object.keys(data.documents));
      document.querySelectorAll("#filters input[type=checkbox]").forEach((box) => {
        if (box.dataset.filter === "document" || (box.dataset.filter === "type" && box.dataset.value === n.type)) box.checked = true;
      });
      recompute();
    }
    network.selectNodes([id]);
    network.focus(id, { scale: Math.max(network.getScale(), 1.1), animation: { duration: 300 } });
    showNode(id);
  }

  function runSearch(event) {
    if (event) event.preventDefault();
    const found = search(document.getElementById("search").value);
    const results = document.getElementById("results");
    results.replaceChildren();
    if (!found.length) {
      results.appendChild(el("li", ui.nomatch, "hint"));
      return;
    }
    if (found.length > 1) {
      results.appendChild(el("li", found.length + " " + ui.matches, "hint"));
      for (const id of found.slice(0, 50)) {
        const li = el("li");
        li.appendChild(nodeButton(id));
        results.appendChild(li);
      }
    }
    select(found[0]);
  }

  // --- Start ------------------------------------------------------------------------------------

  recompute();
  nodesView = new vis.DataView(nodes, { filter: (n) => visibleNodes.has(n.id) });
  edgesView = new vis.DataView(edges, { filter: (e) => visibleEdges.has(e.id) });
  const container = document.getElementById("network");
  network = new vis.Network(container, { nodes: nodesView, edges: edgesView }, data.options);
  if (data.physics) {
    // Settle, then stop: a graph that keeps moving is hard to read. Never wait for this event.
    network.once("stabilizationIterationsDone", () => network.setOptions({ physics: { enabled: false } }));
  }
  network.on("click", (params) => {
    if (params.nodes.length) showNode(params.nodes[0]);
    else if (params.edges.length) showEdge(params.edges[0]);
  });
  buildFilters();
  document.getElementById("search-form").addEventListener("submit", runSearch);
  document.getElementById("panel-close").addEventListener("click", () => {
    network.unselectAll();
    document.getElementById("panel").hidden = true;
  });
  if (data.focus) select(data.focus);

  window.dkg = {
    network,
    nodes,
    edges,
    nodesView,
    edgesView,
    search,
    select,
    drawn: () => ({ nodes: network.body.nodeIndices.length, edges: network.body.edgeIndices.length }),
    visible: () => ({ nodes: nodesView.length, edges: edgesView.length }),
  };
})();
