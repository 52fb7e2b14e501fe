// The rumour-spread dashboard: polls the API every 2 s and draws with Apache ECharts.
// The page itself is public; every data request carries the bearer token kept in sessionStorage.
(function () {
  "use strict";
  var POLL_MS = 2000;
  var I18N = window.RUMOUR_I18N, PROVINCES = window.RUMOUR_PROVINCES;
  var state = {
    lang: sessionStorage.getItem("rumour.lang") || (navigator.language && navigator.language.indexOf("zh") === 0 ? "zh-CN" : "en"),
    token: sessionStorage.getItem("rumour.token") || "",
    me: null, rumours: [], selected: null, detail: null, tree: null, treeEvents: -1, chain: null,
    polls: 0, errors: 0
  };
  var charts = {};
  var tz = Intl.DateTimeFormat().resolvedOptions().timeZone || "local";
  function $(id) { return document.getElementById(id); }
  function t(key) { return (I18N[state.lang] || I18N.en)[key] || key; }
  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function fmtTime(iso) {
    if (!iso) return "";
    return new Intl.DateTimeFormat(state.lang, {year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false}).format(new Date(iso));
  }
  function regionName(code) {
    if (!code) return t("unknown");
    var p = PROVINCES[code.slice(0, 2)];
    var name = p ? p[state.lang === "zh-CN" ? 0 : 1] : code;
    return /0000$/.test(code) ? name : name + " " + code;
  }

  // -- API --------------------------------------------------------------------------------
  function api(path) {
    var headers = {"Authorization": "Bearer " + state.token};
    var c = $("case").value.trim();
    if (c) headers["X-Case-Id"] = encodeURIComponent(c);
    return fetch(path, {headers: headers, cache: "no-store"}).then(function (resp) {
      if (resp.status === 401) { showLogin(t("bad_token")); throw new Error("401"); }
      return resp.json().then(function (body) {
        if (!resp.ok) { var e = new Error(body.error || resp.status); e.status = resp.status; throw e; }
        return body;
      });
    });
  }

  // -- login ------------------------------------------------------------------------------
  function showLogin(msg) {
    state.token = ""; sessionStorage.removeItem("rumour.token");
    $("login-error").textContent = msg || ""; $("login").hidden = false; $("token").focus();
  }
  function login() {
    return api("/api/me").then(function (me) {
      state.me = me; $("login").hidden = true;
      renderWho();
      $("case-box").hidden = !me.case_required;
      poll();
    });
  }

  // -- list -------------------------------------------------------------------------------
  function renderList() {
    $("asof").textContent = state.asOf ? t("as_of") + " " + fmtTime(state.asOf) : "";
    var body = $("rumours").querySelector("tbody");
    body.innerHTML = state.rumours.map(function (r) {
      return '<tr data-id="' + esc(r.rumour_id) + '"' + (r.rumour_id === state.selected ? ' class="selected"' : "") + ">" +
        "<td>" + esc(r.rumour_id) + "</td><td>" + r.size + "</td><td>+" + r.growth_last_hour + "</td>" +
        '<td class="status-' + esc(r.status) + '">' + esc(t(r.status)) + "</td><td>" + esc(regionName(r.region)) +
        "</td><td>" + esc(fmtTime(r.last_ts)) + "</td></tr>";
    }).join("");
  }

  // -- charts -----------------------------------------------------------------------------
  function chart(id) {
    if (!charts[id]) charts[id] = echarts.init($(id), null, {renderer: "canvas"});
    return charts[id];
  }
  function renderSeries() {
    var d = state.detail; if (!d) return;
    chart("chart-series").setOption({
      animation: false,
      tooltip: {trigger: "axis"},
      legend: {data: [t("rumour_series"), t("debunk_series")], top: 0, right: 10},
      grid: {left: 40, right: 16, top: 34, bottom: 24},
      xAxis: {type: "time"},   // ECharts shows time axes in the viewer's zone
      yAxis: {type: "value", minInterval: 1},
      series: [
        {name: t("rumour_series"), type: "line", showSymbol: false, data: d.series.rumour, itemStyle: {color: "#c0392b"}, areaStyle: {opacity: 0.15}},
        {name: t("debunk_series"), type: "line", showSymbol: false, data: d.series.debunk, itemStyle: {color: "#27ae60"}, areaStyle: {opacity: 0.15}}
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
  function treeNode(n) {
    var color = n.origin ? "#c0392b" : n.cutoff ? "#f39c12" : (n.observed ? "#2f5a94" : "#aab4c3");
    var kids = n.children.map(treeNode);
    if (n.more > 0) kids.push({name: "+" + n.more + " " + t("more"), value: n.more, itemStyle: {color: "#ccd3de"}, leaf: true});
    return {name: n.name || "?", value: n.size, event_id: n.event_id, ts: n.ts, origin: n.origin, cutoff: n.cutoff,
      symbolSize: n.origin || n.cutoff ? 12 : 7, itemStyle: {color: color, borderColor: color}, children: kids};
  }
  function renderTree() {
    var tr = state.tree; if (!tr) return;
    var root = tr.roots.length === 1 ? treeNode(tr.roots[0]) :
      {name: tr.rumour_id, value: tr.events, itemStyle: {color: "#555"}, children: tr.roots.map(treeNode)};
    chart("chart-tree").setOption({
      animation: false,
      tooltip: {trigger: "item", formatter: function (p) {
        var d = p.data;
        return esc(d.name) + (d.event_id ? "<br>" + t("event") + ": " + esc(d.event_id) : "") +
          (d.ts ? "<br>" + esc(fmtTime(d.ts)) : "") + "<br>" + t("size") + ": " + esc(d.value) +
          (d.origin ? "<br>★ " + t("origin") : "") + (d.cutoff ? "<br>✂ " + t("cutoff") : "");
      }},
      series: [{type: "tree", data: [root], top: 10, left: 110, bottom: 10, right: 170, roam: true,
        initialTreeDepth: 2, expandAndCollapse: true, symbol: "circle",
        label: {position: "left", verticalAlign: "middle", align: "right", fontSize: 10},
        leaves: {label: {position: "right", align: "left"}}}]
    }, {notMerge: true});
  }
  function renderChain() {
    var c = state.chain, el = $("chain");
    if (!c) return;
    if (c.error) { el.textContent = c.error; return; }
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
  function renderWho() {
    var me = state.me; if (!me) return;
    $("who").textContent = me.name + " · " + t("role_" + me.role) + " · " + regionName(me.jurisdiction) +
      (me.clear_identities ? "" : " · " + t("pseudonymised"));
  }
  function renderAll() {
    document.documentElement.lang = state.lang;
    document.querySelectorAll("[data-i18n]").forEach(function (el) { el.textContent = t(el.getAttribute("data-i18n")); });
    $("lang").textContent = state.lang === "zh-CN" ? "English" : "中文";
    $("tz").textContent = t("times_in") + ": " + tz;
    if (state.selected) $("detail-title").textContent = t("rumour") + " " + state.selected;
    renderWho(); renderList(); renderSeries(); renderRegions(); renderSpreaders(); renderTree(); renderChain();
  }

  // -- polling ----------------------------------------------------------------------------
  function poll() {
    if (!state.token) return;
    api("/api/rumours").then(function (list) {
      state.rumours = list.rumours;
      state.asOf = list.as_of;
      if (!state.selected && list.rumours.length) select(list.rumours[0].rumour_id);
      renderList();
      if (!state.selected) return;
      var sel = state.selected;
      return api("/api/rumours/" + encodeURIComponent(sel)).then(function (d) {
        if (sel !== state.selected) return;
        state.detail = d; renderSeries(); renderRegions(); renderSpreaders();
        if (d.size !== state.treeEvents) {
          state.treeEvents = d.size;
          return api("/api/rumours/" + encodeURIComponent(sel) + "/tree?limit=150").then(function (tr) {
            if (sel === state.selected) { state.tree = tr; renderTree(); }
          });
        }
      });
    }).then(function () { state.polls++; }, function (e) { state.errors++; if (e.message !== "401") console.warn(e); })
      .then(function () { setTimeout(poll, POLL_MS); });
  }
  function select(id) {
    state.selected = id; state.detail = null; state.tree = null; state.treeEvents = -1; state.chain = null;
    $("chain").textContent = t("chain_hint");
    $("detail-title").textContent = t("rumour") + " " + id;
  }
  function traceAccount(name) {
    if (state.me.case_required && !$("case").value.trim()) {
      state.chain = {error: t("need_case")}; renderChain(); return;
    }
    $("chain").textContent = t("loading");
    api("/api/rumours/" + encodeURIComponent(state.selected) + "/accounts/" + encodeURIComponent(name) + "/trace")
      .then(function (a) { state.chain = {answer: a}; renderChain(); },
            function (e) { state.chain = {error: (e.status === 403 ? t("forbidden") + ": " : "") + e.message}; renderChain(); });
  }

  // -- wiring -----------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", function () {
    $("lang").addEventListener("click", function () {
      state.lang = state.lang === "zh-CN" ? "en" : "zh-CN";
      sessionStorage.setItem("rumour.lang", state.lang); renderAll();
    });
    $("logout").addEventListener("click", function () { showLogin(""); });
    $("level").addEventListener("change", renderRegions);
    $("case").value = sessionStorage.getItem("rumour.case") || "";
    $("case").addEventListener("change", function () { sessionStorage.setItem("rumour.case", $("case").value.trim()); });
    $("rumours").addEventListener("click", function (ev) {
      var tr = ev.target.closest("tr[data-id]"); if (!tr) return;
      select(tr.getAttribute("data-id")); renderList();
    });
    $("login-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      state.token = $("token").value.trim(); sessionStorage.setItem("rumour.token", state.token);
      login().catch(function () {});
    });
    chart("chart-tree").on("click", function (p) {
      if (p.data && p.data.event_id && p.data.name) traceAccount(p.data.name);
    });
    window.addEventListener("resize", function () { Object.keys(charts).forEach(function (k) { charts[k].resize(); }); });
    renderAll();
    if (state.token) login().catch(function () {}); else showLogin("");
  });
  // For tests and debugging: read-only access to the state and the chart instances.
  window.rumourDashboard = {state: state, charts: charts, traceAccount: traceAccount};
})();
