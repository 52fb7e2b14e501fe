// The selected rumour's propagation tree (GET .../tree, a subtree under an event with the way
// back to the whole tree) and the evidence chain of an account clicked in it (.../trace).
(function (P) {
  "use strict";
  var state = P.state, $ = P.$, t = P.t, esc = P.esc, fmtTime = P.fmtTime, errText = P.errText, regionName = P.regionName;
  var api = P.api, chart = P.chart;

  function treeNode(n) {
    var color = n.origin ? "#c0392b" : n.cutoff ? "#f39c12" : (n.observed ? "#2f5a94" : "#aab4c3");
    var kids = n.children.map(treeNode);
    // ?under= takes an event's pseudonym, or for a node with no event id (a missing post its
    // shares name by account only) its account's pseudonym, its name.
    var under = n.event_id || n.name;
    if (n.more > 0) kids.push({name: "+" + n.more + " " + t("more"), value: n.more, itemStyle: {color: "#ccd3de"}, leaf: true,
      expand: under});
    return {name: n.name || "?", value: n.size, event_id: n.event_id, under: under, ts: n.ts, origin: n.origin, cutoff: n.cutoff, more: n.more,
      symbolSize: n.origin || n.cutoff ? 12 : 7, itemStyle: {color: color, borderColor: color}, children: kids};
  }
  // Where a subtree shown sits: the origin, the events between (counted), the last few above it.
  function renderTreePath() {
    var tr = state.tree, box = $("tree-path");
    $("tree-back").hidden = !state.treeUnder;
    $("tree-back").textContent = "‹ " + t(state.treeBack.length > 1 ? "tree_back" : "tree_whole");
    if (!tr || !tr.path) { box.textContent = ""; return; }
    var p = tr.path, names = function (a) { return a.map(function (n) { return n.name || "?"; }); };
    var between = p.length - 4 + (tr.path_omitted || 0);  // the answer holds at most 100 of them
    var parts = p.length <= 5 && !tr.path_omitted ? names(p) : names(p.slice(0, 1)).concat(["… " + between + " …"], names(p.slice(-3)));
    box.textContent = t("tree_path") + ": " + parts.join(" › ");
    box.title = names(p).join(" › ");
  }
  function renderTree() {
    var tr = state.tree; renderTreePath(); if (!tr) return;
    // The whole cascade's size, or the subtree's, and its depth: the drawing holds at most 150
    // events, 100 deep.
    $("tree-facts").textContent = (tr.under ? tr.roots[0].size : tr.events) + " " + t("tree_events") + " · " +
      t("tree_depth") + " " + tr.depth + " · " + t("tree_shown") + " " + tr.shown;
    var root = tr.roots.length === 1 ? treeNode(tr.roots[0]) :
      {name: tr.rumour_id, value: tr.events, itemStyle: {color: "#555"}, children: tr.roots.map(treeNode)};
    // A tree replaced in place (another rumour, another language) trips ECharts' tree view
    // over the old nodes' edges: start from an empty chart each time.
    chart("chart-tree").clear();
    chart("chart-tree").setOption({
      animation: false,
      tooltip: {trigger: "item", formatter: function (p) {
        var d = p.data;
        return esc(d.name) + (d.event_id ? "<br>" + t("event") + ": " + esc(d.event_id) : "") +
          (d.ts ? "<br>" + esc(fmtTime(d.ts)) : "") + "<br>" + t("size") + ": " + esc(d.value) +
          (d.origin ? "<br>★ " + t("origin") : "") + (d.cutoff ? "<br>✂ " + t("cutoff") : "");
      }},
      // A wide fan puts its children a few pixels apart: a label is drawn only where it has room
      // (ECharts hides the others, the larger origin and cut-off nodes' last; hovering a node
      // shows its label, the tooltip the full text), cut to the margins that hold it.
      series: [{type: "tree", data: [root], top: 10, left: 115, bottom: 10, right: 125, roam: true,
        initialTreeDepth: 2, expandAndCollapse: true, symbol: "circle",
        label: {position: "left", verticalAlign: "middle", align: "right", fontSize: 10,
          width: 100, overflow: "truncate"},
        leaves: {label: {position: "right", align: "left"}},
        labelLayout: {hideOverlap: true}}]
    }, {notMerge: true});
  }
  function renderChain() {
    var c = state.chain, el = $("chain");
    if (!c) return;
    if (c.error) { el.textContent = errText(c.error); return; }
    var a = c.answer;
    if (!a.chains.length) { el.textContent = t("no_chain"); return; }
    el.classList.remove("muted");
    el.innerHTML = a.chains.slice(0, 5).map(function (ch) {
      return "<ol>" + ch.hops.map(function (h) {
        return "<li><b>" + esc(h.account_id) + "</b> · " + esc(h.event_id || "?") + " · " + esc(fmtTime(h.ts)) +
          " · " + esc(h.platform || "") + " · " + esc(regionName(h.region)) +
          (h.text_sha256 ? " · <code>" + esc(h.text_sha256.slice(0, 16)) + "…</code>" : "") + "</li>";
      }).join("") + "</ol>";
    }).join("");
  }
  // The tree of rumour sel, or its subtree under event under; an event gone (a 404) falls back
  // to the whole tree. An answer that comes after the user moved elsewhere is dropped.
  function loadTree(sel, under) {
    var url = "/api/rumours/" + encodeURIComponent(sel) + "/tree?limit=150" + (under ? "&under=" + encodeURIComponent(under) : "");
    return api(url).then(function (tr) {
      if (sel === state.selected && under === state.treeUnder) { state.tree = tr; renderTree(); }
    }, function (e) {
      if (e.status !== 404 || !under || sel !== state.selected || under !== state.treeUnder) throw e;
      state.treeUnder = null; state.treeBack = []; return loadTree(sel, null);
    });
  }
  function expandTree(eventId) {
    state.treeBack.push(state.treeUnder); state.treeUnder = eventId; renderTreePath();
    $("tree-facts").textContent = t("loading");
    loadTree(state.selected, eventId).catch(function (e) { if (e.message !== "401") console.warn(e); });
  }
  function treeBack() {
    if (!state.treeUnder) return;
    state.treeUnder = state.treeBack.pop() || null; renderTreePath();
    loadTree(state.selected, state.treeUnder).catch(function (e) { if (e.message !== "401") console.warn(e); });
  }
  function traceAccount(name) {
    if (state.me.case_required && !$("case").value.trim()) {
      state.chain = {error: {code: "case_required"}}; renderChain(); return;
    }
    $("chain").textContent = t("loading");
    api("/api/rumours/" + encodeURIComponent(state.selected) + "/accounts/" + encodeURIComponent(name) + "/trace")
      .then(function (a) { state.chain = {answer: a}; renderChain(); },
            function (e) { if (e.message !== "401") { state.chain = {error: e}; renderChain(); } });
  }

  P.renderTree = renderTree; P.renderTreePath = renderTreePath; P.renderChain = renderChain;
  P.loadTree = loadTree; P.expandTree = expandTree; P.treeBack = treeBack; P.traceAccount = traceAccount;
})(window.RUMOUR_PAGE);
