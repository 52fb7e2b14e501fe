// The rumour-spread dashboard: polls the API every 2 s while its tab is visible and draws with
// Apache ECharts. This file wires the page together and runs the poll; the parts it calls are
// page.js (state, texts, api), login.js (the token), list.js (the rumour list), charts.js and
// tree.js (the selected rumour's charts, tree and chain), desk.js (alerts, handling status,
// reports) and trace.js (the origin trace panel), all loaded before it by index.html.
(function (P) {
  "use strict";
  var POLL_MS = 2000;
  var state = P.state, charts = P.charts, $ = P.$, t = P.t, api = P.api, zone = P.zone, learnNames = P.learnNames;
  var showLogin = P.showLogin, login = P.login, loginFailed = P.loginFailed, renderWho = P.renderWho, renderExpiry = P.renderExpiry;
  var loadList = P.loadList, goPage = P.goPage, renderList = P.renderList, renderPollError = P.renderPollError;
  var renderSeries = P.renderSeries, renderRegions = P.renderRegions, renderSpreaders = P.renderSpreaders, renderDebunk = P.renderDebunk;
  var renderTree = P.renderTree, renderTreePath = P.renderTreePath, renderChain = P.renderChain, loadTree = P.loadTree;
  var expandTree = P.expandTree, treeBack = P.treeBack, traceAccount = P.traceAccount;
  var renderAlerts = P.renderAlerts, renderHandling = P.renderHandling, setStatus = P.setStatus;
  var loadUnlinked = P.loadUnlinked, linkReport = P.linkReport;

  function renderAll() {
    document.documentElement.lang = state.lang;
    document.querySelectorAll("[data-i18n]").forEach(function (el) { el.textContent = t(el.getAttribute("data-i18n")); });
    $("rumour-search").placeholder = t("search");
    $("page-prev").title = t("page_prev"); $("page-next").title = t("page_next");
    $("lang").textContent = state.lang === "zh-CN" ? "English" : "中文";
    $("tz").textContent = t("times_in") + ": " + zone();
    if (state.selected) $("detail-title").textContent = t("rumour") + " " + state.selected;
    renderWho(); renderList(); renderPollError(); renderSeries(); renderRegions(); renderSpreaders(); renderTree(); renderChain();
    $("status-msg").textContent = "";  // a transient message, in the language it was said in
    renderAlerts(); renderHandling(); renderDebunk(); if (P.tracePanel) P.tracePanel.render();
  }

  // -- polling ----------------------------------------------------------------------------
  function poll() {
    if (!state.token) return;
    var gov = state.me && state.me.governance;
    // Alerts are polled beside the list; a failure of one does not stop the other.
    var alerts = gov ? api("/api/alerts?limit=100").then(function (a) { state.alerts = a.alerts; renderAlerts(); })
      : Promise.resolve(renderAlerts());
    Promise.all([alerts, loadList().then(function () {
      if (!state.selected && state.rumours.length) { select(state.rumours[0].rumour_id); renderList(); }
      if (!state.selected) return;
      var sel = state.selected;
      var base = "/api/rumours/" + encodeURIComponent(sel);
      var extra = !gov ? [] : [
        api(base + "/status").then(function (h) { if (sel === state.selected) { state.handling = h; } }),
        api(base + "/reports").then(function (r) { if (sel === state.selected) { state.reports = r; } }),
        api(base + "/debunk").then(function (d) { if (sel === state.selected) { state.debunk = d; } },
                                   function (e) { if (e.status !== 404) throw e; state.debunk = null; })
      ];
      var gvDone = Promise.all(extra).then(function () { if (sel === state.selected) { renderHandling(); renderDebunk(); } });
      return Promise.all([gvDone, api(base).then(function (d) {
        if (sel !== state.selected) return;
        learnNames(d.region_names);
        state.detail = d; renderSeries(); renderRegions(); renderSpreaders();
        if (d.size !== state.treeEvents) {
          state.treeEvents = d.size;
          return loadTree(sel, state.treeUnder);
        }
      })]);
    })]).then(function () { state.polls++; state.pollError = null; renderPollError(); }, function (e) {
      state.errors++; state.lastError = String(e && (e.stack || e.message));
      if (e.message !== "401") { console.warn(e); state.pollError = e; renderPollError(); }
    })
      .then(function () { renderExpiry(); setTimeout(nextPoll, POLL_MS); });  // a page stays open for days
  }
  // A hidden tab (another tab in front, a minimised window) does not poll; it polls again as
  // soon as it is shown.
  function nextPoll() {
    if (document.hidden) { state.paused = true; return; }
    poll();
  }
  function select(id) {
    state.selected = id; state.detail = null; state.tree = null; state.treeEvents = -1; state.chain = null;
    state.treeUnder = null; state.treeBack = []; renderTreePath();
    state.handling = null; state.debunk = null; state.reports = null; renderHandling(); renderDebunk();
    $("tree-facts").textContent = "";
    $("chain").textContent = t("chain_hint");
    $("detail-title").textContent = t("rumour") + " " + id;
    if (P.tracePanel) P.tracePanel.render();
  }

  // -- wiring -----------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", function () {
    $("lang").addEventListener("click", function () {
      state.lang = state.lang === "zh-CN" ? "en" : "zh-CN";
      sessionStorage.setItem("rumour.lang", state.lang);
      Object.keys(charts).forEach(function (k) { charts[k].dispose(); delete charts[k]; });
      renderAll();
    });
    $("logout").addEventListener("click", function () { showLogin(""); });
    $("level").addEventListener("change", renderRegions);
    $("case").value = sessionStorage.getItem("rumour.case") || "";
    $("case").addEventListener("change", function () { sessionStorage.setItem("rumour.case", $("case").value.trim()); });
    var searchTimer = null;
    $("rumour-search").addEventListener("input", function () {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(function () {
        state.list.q = $("rumour-search").value.trim().slice(0, 100); goPage(0);
      }, 250);
    });
    $("page-prev").addEventListener("click", function () { goPage(state.list.offset - state.list.limit); });
    $("page-next").addEventListener("click", function () { goPage(state.list.offset + state.list.limit); });
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && state.paused) { state.paused = false; poll(); }
    });
    $("rumours").addEventListener("click", function (ev) {
      var tr = ev.target.closest("tr[data-id]"); if (!tr) return;
      select(tr.getAttribute("data-id")); renderList();
    });
    $("alerts").addEventListener("click", function (ev) {
      var li = ev.target.closest("li[data-id]"); if (!li) return;
      select(li.getAttribute("data-id")); renderList();
    });
    $("status-form").addEventListener("submit", setStatus);
    $("unlinked").addEventListener("toggle", loadUnlinked);
    $("unlinked-list").addEventListener("click", linkReport);
    $("tree-back").addEventListener("click", treeBack);
    $("login-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      state.token = $("token").value.trim(); sessionStorage.setItem("rumour.token", state.token);
      login().catch(loginFailed);
    });
    P.tracePanel = window.RUMOUR_TRACE({$: $, t: t, esc: P.esc, fmtTime: P.fmtTime, api: api, headers: P.authHeaders, errorText: P.errText,
      me: function () { return state.me; }, selected: function () { return state.selected; },
      unauthorised: function () { showLogin(t("bad_token")); }});
    P.chart("chart-tree");
    window.addEventListener("resize", function () { Object.keys(charts).forEach(function (k) { charts[k].resize(); }); });
    renderAll();
    if (state.token) login().catch(loginFailed); else showLogin("");
  });
  P.poll = poll;  // login.js starts the poll once /api/me answers
  // For tests and debugging: read-only access to the state and the chart instances.
  window.rumourDashboard = {state: state, charts: charts, traceAccount: traceAccount, select: select, goPage: goPage,
    expandTree: expandTree, trace: function () { return P.tracePanel; }};
})(window.RUMOUR_PAGE);
