// The selected rumour's charts drawn with Apache ECharts: the instances (P.charts, one per
// element id) and the series, regions, top spreaders and debunk reach (the tree is tree.js's).
(function (P) {
  "use strict";
  var state = P.state, $ = P.$, t = P.t, esc = P.esc, regionName = P.regionName, learnNames = P.learnNames, duration = P.duration;
  var charts = {};

  // Charts speak the page's language (axis months, tooltips): ECharts takes its locale when a
  // chart is made, so a change of language makes them anew.
  function chart(id) {
    if (!charts[id]) {
      charts[id] = echarts.init($(id), null, {renderer: "canvas", locale: state.lang === "zh-CN" ? "ZH" : "EN"});
      if (id === "chart-tree") charts[id].on("click", function (p) {
        var d = p.data || {};
        // A node with events not shown (cut by the limit or 100 deep), or its "+N more" leaf,
        // opens its subtree; any other node (and the top of a subtree shown) its account's chain.
        if (d.expand) { if (d.expand !== state.treeUnder) P.expandTree(d.expand); }
        else if (d.more > 0 && d.under && d.under !== state.treeUnder) P.expandTree(d.under);
        else if (d.event_id && d.name) P.traceAccount(d.name);
      });
    }
    return charts[id];
  }
  function renderSeries() {
    var d = state.detail; if (!d) return;
    // Points on the centre's wall clock read as UTC, drawn with useUTC: the axis and the
    // tooltip show the zone's local days and hours, whatever the browser's zone.
    var series = window.RUMOUR_SERIES.fillSeries(d.series, d.bucket_ms, d.timezone);
    chart("chart-series").setOption({
      animation: false, useUTC: !!d.timezone,
      tooltip: {trigger: "axis"},
      legend: {data: [t("rumour_series"), t("debunk_series")], top: 0, right: 10},
      grid: {left: 40, right: 16, top: 34, bottom: 24},
      // Weeks across a turn of month or year put a day's label on the month's or year's:
      // a label without room of its own is not drawn (the tooltip gives every bucket's date).
      xAxis: {type: "time", axisLabel: {hideOverlap: true}},
      yAxis: {type: "value", minInterval: 1},
      series: [
        {name: t("rumour_series"), type: "line", showSymbol: false, data: series.rumour, itemStyle: {color: "#c0392b"}, areaStyle: {opacity: 0.15}},
        {name: t("debunk_series"), type: "line", showSymbol: false, data: series.debunk, itemStyle: {color: "#27ae60"}, areaStyle: {opacity: 0.15}}
      ]
    }, {notMerge: true});
  }
  function renderRegions() {
    var d = state.detail; if (!d) return;
    var rows = d.regions[$("level").value].slice(0, 15).reverse();
    chart("chart-regions").setOption({
      animation: false, tooltip: {},
      grid: {left: 110, right: 30, top: 10, bottom: 20},
      xAxis: {type: "value", minInterval: 1},
      yAxis: {type: "category", data: rows.map(function (r) { return regionName(r[0]); })},
      series: [{type: "bar", name: t("shares"), data: rows.map(function (r) { return r[1]; }), itemStyle: {color: "#2f5a94"},
        label: {show: true, position: "right"}}]
    }, {notMerge: true});
  }
  function renderSpreaders() {
    var d = state.detail; if (!d) return;
    var rows = d.top_spreaders.slice().reverse();
    chart("chart-spreaders").setOption({
      animation: false, tooltip: {},
      grid: {left: 150, right: 30, top: 10, bottom: 20},
      xAxis: {type: "value", minInterval: 1},
      yAxis: {type: "category", data: rows.map(function (r) { return r.account_id; })},
      series: [{type: "bar", name: t("reshares"), data: rows.map(function (r) { return r.reshares; }), itemStyle: {color: "#8e44ad"},
        label: {show: true, position: "right"}}]
    }, {notMerge: true});
  }
  function renderDebunk() {
    var d = state.debunk, stats = $("debunk-stats");
    if (!d) { stats.textContent = ""; if (charts["chart-debunk"]) charts["chart-debunk"].clear(); return; }
    var pct = d.coverage == null ? "–" : (100 * d.coverage).toFixed(1) + "%";
    stats.innerHTML = [[t("exposed"), d.exposed], [t("reached"), d.reached], [t("covered"), d.covered],
      [t("coverage"), pct], [t("time_to_debunk"), duration(d.time_to_debunk_ms)]].map(function (x) {
      return '<span class="stat"><small>' + esc(x[0]) + "</small><b>" + esc(x[1]) + "</b></span>";
    }).join("");
    var cities = Object.keys(d.by_city).map(function (c) {
      var v = d.by_city[c]; var names = {}; names[c] = v.name; learnNames(names);
      return [c, v.exposed, v.covered];
    }).sort(function (a, b) { return b[1] - a[1]; }).slice(0, 12).reverse();
    var cats = [t("rumour_series") + " / " + t("debunk_series")].concat(cities.map(function (c) { return regionName(c[0]); }));
    chart("chart-debunk").setOption({
      animation: false, tooltip: {trigger: "axis", axisPointer: {type: "shadow"}},
      legend: {data: [t("exposed"), t("reached"), t("covered")], top: 0, right: 10},
      grid: {left: 130, right: 40, top: 30, bottom: 20},
      xAxis: {type: "value", minInterval: 1}, yAxis: {type: "category", data: cats.slice(1).concat([cats[0]])},
      series: [
        {name: t("exposed"), type: "bar", data: cities.map(function (c) { return c[1]; }).concat([d.exposed]), itemStyle: {color: "#c0392b"}},
        {name: t("reached"), type: "bar", data: cities.map(function () { return null; }).concat([d.reached]), itemStyle: {color: "#27ae60"}},
        {name: t("covered"), type: "bar", data: cities.map(function (c) { return c[2]; }).concat([d.covered]), itemStyle: {color: "#2f5a94"},
          label: {show: true, position: "right", formatter: function (p) {
            var i = p.dataIndex, ex = i < cities.length ? cities[i][1] : d.exposed;
            return ex ? Math.round(100 * p.value / ex) + "%" : "";
          }}}
      ]
    }, {notMerge: true});
  }

  P.charts = charts; P.chart = chart;
  P.renderSeries = renderSeries; P.renderRegions = renderRegions; P.renderSpreaders = renderSpreaders;
  P.renderDebunk = renderDebunk;
})(window.RUMOUR_PAGE);
