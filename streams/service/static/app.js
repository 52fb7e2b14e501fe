// The rumour-spread dashboard: polls the API every 2 s while its tab is visible and draws with
// Apache ECharts. The rumour list comes a page at a time (PAGE rows, a server-side search), and is
// asked for with the last answer's ETag: an unchanged page is a 304 with no body.
// The page itself is public; every data request carries the bearer token kept in sessionStorage.
(function () {
  "use strict";
  var POLL_MS = 2000, PAGE = 50;
  var I18N = window.RUMOUR_I18N, PROVINCES = window.RUMOUR_PROVINCES, ERRORS = window.RUMOUR_ERRORS;
  var state = {
    lang: sessionStorage.getItem("rumour.lang") || (navigator.language && navigator.language.indexOf("zh") === 0 ? "zh-CN" : "en"),
    token: sessionStorage.getItem("rumour.token") || "",
    me: null, rumours: [], selected: null, detail: null, tree: null, treeEvents: -1, chain: null,
    treeUnder: null, treeBack: [],  // the event whose subtree is shown (null: the whole tree), and the way back
    alerts: null, handling: null, debunk: null, reports: null, unlinked: null, names: {}, timeZone: null,
    list: {offset: 0, limit: PAGE, q: "", total: 0, url: null, etag: null, notModified: 0},
    polls: 0, errors: 0, paused: false, pollError: null
  };
  var charts = {};
  var tracePanel = null;  // trace.js: the rumour's origin trace and evidence export
  // Times are shown on the centre's clock (report_timezone, named by the API's answers), the
  // same days and hours as the series' buckets; the browser's zone until the first answer.
  var browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local";
  function zone() { return state.timeZone || browserZone; }
  function $(id) { return document.getElementById(id); }
  function t(key) { return (I18N[state.lang] || I18N.en)[key] || key; }
  // An API refusal (or no answer) in the page's language (errors.js).
  function errText(e) { return ERRORS.text(state.lang, e); }
  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function fmtTime(iso) {
    if (!iso) return "";
    return new Intl.DateTimeFormat(state.lang, {year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
      timeZone: state.timeZone || undefined}).format(new Date(iso));
  }
  // Names of division codes come with the answers (streams.governance.divisions); the
  // province table is the fallback for a code the answers did not name.
  function learnNames(map) { if (map) Object.keys(map).forEach(function (k) { if (map[k]) state.names[k] = map[k]; }); }
  function regionName(code) {
    if (!code) return t("unknown");
    var n = state.names[code];
    if (n) return state.lang === "zh-CN" ? n.zh : n.en;
    if (!/^\d{6}$/.test(code)) return code;
    var p = PROVINCES[code.slice(0, 2)];
    var name = p ? p[state.lang === "zh-CN" ? 0 : 1] : code;
    return /0000$/.test(code) ? name : name + " " + code;
  }
  function handlingName(status) { return status ? t(status === "debunked" ? "h_debunked" : status) : t("status_none"); }
  function whoName(by) { return by === "system:intake" ? t("system_intake") : by; }
  function duration(ms) {
    if (ms == null) return t("no_debunk");
    var m = Math.round(ms / 60000);
    return (m < 0 ? "-" : "") + (Math.abs(m) >= 120 ? (Math.abs(m) / 60).toFixed(1) + " " + t("hours") : Math.abs(m) + " " + t("minutes"));
  }

  // -- API --------------------------------------------------------------------------------
  // etag: sent as If-None-Match; a 304 answers null, and the answer's ETag goes to onEtag.
  // The token, and the case number when one is given (percent-encoded: a header is Latin-1).
  function authHeaders() {
    var headers = {"Authorization": "Bearer " + state.token};
    var c = $("case").value.trim();
    if (c) headers["X-Case-Id"] = encodeURIComponent(c);
    return headers;
  }
  function api(path, body, etag, onEtag) {
    var headers = authHeaders();
    if (etag) headers["If-None-Match"] = etag;
    var init = {headers: headers, cache: "no-store"};
    if (body !== undefined) {
      init.method = "POST"; headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (resp) {
      if (resp.status === 401) { showLogin(t("bad_token")); throw new Error("401"); }
      if (resp.status === 304) return null;
      if (!resp.ok) return ERRORS.refusal(resp);
      if (onEtag) onEtag(resp.headers.get("ETag"));
      return resp.json();
    }, ERRORS.unreachable);
  }

  // -- login ------------------------------------------------------------------------------
  function showLogin(msg) {
    state.token = ""; sessionStorage.removeItem("rumour.token");
    if (tracePanel) tracePanel.reset();
    $("login-error").textContent = msg || ""; $("login").hidden = false; $("token").focus();
  }
  function login() {
    return api("/api/me").then(function (me) {
      state.me = me; $("login").hidden = true;
      var names = {}; names[me.jurisdiction] = me.jurisdiction_name; learnNames(names);
      renderWho();
      $("case-box").hidden = !me.case_required;
      tracePanel.render();
      poll();
    });
  }
  // A token refused other than by 401 (a monitor token: 403 on /api/me), or a server out of
  // reach: say so on the form; the page stayed on it with no word, and kept the token.
  function loginFailed(e) {
    if (e.message !== "401") showLogin(t("login_refused") + (state.lang === "zh-CN" ? "：" : ": ") + errText(e));
  }

  // -- list -------------------------------------------------------------------------------
  function listUrl() {
    var l = state.list;
    return "/api/rumours?limit=" + l.limit + (l.offset ? "&offset=" + l.offset : "") +
      (l.q ? "&q=" + encodeURIComponent(l.q) : "");
  }
  // The current page of the list; a 304 keeps the rows already shown. An answer to an
  // earlier search or page (the user typed on while it was under way) is dropped.
  function loadList() {
    var url = listUrl(), l = state.list;
    return api(url, undefined, l.url === url ? l.etag : null, function (tag) { if (url === listUrl()) l.etag = tag; })
      .then(function (list) {
        if (url !== listUrl()) return;
        l.url = url;
        if (list === null) { l.notModified++; return; }
        if (!list.rumours.length && l.offset && list.total) {  // the list shrank under this page
          l.offset = Math.max(0, Math.floor((list.total - 1) / l.limit) * l.limit); l.url = null;
          return loadList();
        }
        state.rumours = list.rumours; state.asOf = list.as_of; l.total = list.total;
        if (list.timezone && list.timezone !== state.timeZone) {
          state.timeZone = list.timezone; $("tz").textContent = t("times_in") + ": " + zone();
        }
        list.rumours.forEach(function (r) {
          var n = {}; n[r.region] = r.region_name; n[r.city] = r.city_name; n[r.county] = r.county_name; learnNames(n);
        });
        renderList();
      });
  }
  function renderPager() {
    var l = state.list, first = l.total ? l.offset + 1 : 0, last = Math.min(l.offset + l.limit, l.total);
    $("list-page").textContent = first + "–" + last + " / " + l.total;
    $("page-prev").disabled = l.offset <= 0;
    $("page-next").disabled = l.offset + l.limit >= l.total;
  }
  function goPage(offset) {
    state.list.offset = Math.max(0, offset);
    if (state.token) loadList().catch(function (e) { if (e.message !== "401") console.warn(e); });
  }
  // A rumour's main place one level below the desk's jurisdiction: every rumour a city desk
  // sees is in its province, so the province column told it nothing.
  function listPlace(r) {
    var j = state.me && state.me.jurisdiction;
    if (!j || j === "000000") return r.region;
    if (/0000$/.test(j) && r.city && r.city !== j) return r.city;  // a municipality is its own city
    return r.county || r.city || r.region;
  }
  // Why the page is not current (the last poll failed: the store down, the server gone), in
  // the page's language until a poll succeeds; the data shown stays as it was.
  function renderPollError() {
    var box = $("poll-error"), e = state.pollError;
    box.hidden = !e; box.textContent = e ? errText(e) : "";
  }
  function renderList() {
    renderPager();
    // An empty page says why: nothing in the jurisdiction, or nothing that matches the search.
    $("list-empty").hidden = !(state.list.url && !state.rumours.length);
    $("list-empty").textContent = t(state.list.q ? "no_match" : "no_rumours");
    $("asof").textContent = state.asOf ? t("as_of") + " " + fmtTime(state.asOf) : "";
    var body = $("rumours").querySelector("tbody");
    body.innerHTML = state.rumours.map(function (r) {
      return '<tr data-id="' + esc(r.rumour_id) + '"' + (r.rumour_id === state.selected ? ' class="selected"' : "") + ">" +
        "<td>" + esc(r.rumour_id) + "</td><td>" + r.size + "</td><td>+" + r.growth_last_hour + "</td>" +
        '<td class="status-' + esc(r.status) + '">' + esc(t(r.status)) + "</td>" +
        '<td class="h-' + esc(r.handling ? r.handling.status : "none") + '">' + esc(r.handling ? handlingName(r.handling.status) : "–") +
        "</td><td>" + esc(regionName(listPlace(r))) +
        "</td><td>" + esc(fmtTime(r.last_ts)) + "</td></tr>";
    }).join("");
  }

  // -- charts -----------------------------------------------------------------------------
  // Charts speak the page's language (axis months, tooltips): ECharts takes its locale when a
  // chart is made, so a change of language makes them anew.
  function chart(id) {
    if (!charts[id]) {
      charts[id] = echarts.init($(id), null, {renderer: "canvas", locale: state.lang === "zh-CN" ? "ZH" : "EN"});
      if (id === "chart-tree") charts[id].on("click", function (p) {
        var d = p.data || {};
        // A node with events not shown (cut by the limit or 100 deep), or its "+N more" leaf,
        // opens its subtree; any other node (and the top of a subtree shown) its account's chain.
        if (d.expand) { if (d.expand !== state.treeUnder) expandTree(d.expand); }
        else if (d.more > 0 && d.under && d.under !== state.treeUnder) expandTree(d.under);
        else if (d.event_id && d.name) traceAccount(d.name);
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
  function renderAlerts() {
    var me = state.me, list = $("alerts");
    if (!me) return;
    $("alerts-scope").textContent = t("alerts_scope") + ": " + regionName(me.jurisdiction);
    if (!me.governance) { list.innerHTML = '<li class="muted">' + esc(t("governance_off")) + "</li>"; return; }
    var alerts = state.alerts || [];
    $("alert-count").textContent = alerts.length;
    if (!alerts.length) { list.innerHTML = '<li class="muted">' + esc(t("no_alerts")) + "</li>"; return; }
    list.innerHTML = alerts.slice(0, 30).map(function (a) {
      var names = {}; names[a.unit] = a.unit_name; learnNames(names);
      return '<li data-id="' + esc(a.rumour_id) + '" class="alert rule-' + esc(a.rule) + '">' +
        '<span class="when">' + esc(fmtTime(a.minute)) + "</span> <b>" + esc(regionName(a.unit)) + "</b> · " +
        esc(t("rule_" + a.rule)) + " · " + esc(a.rumour_id) + " · " + esc(t("window")) + " " + a.window_shares + "</li>";
    }).join("");
  }
  function renderHandling() {
    var box = $("handling"), h = state.handling, me = state.me;
    if (!state.selected || !me || !me.governance) { box.hidden = true; return; }
    box.hidden = false;
    var cur = h && h.status;
    var el = $("handling-status");
    el.textContent = handlingName(cur ? cur.status : null);
    el.className = "hstatus h-" + (cur ? cur.status : "none");
    $("handling-by").textContent = cur ? t("by") + " " + whoName(cur.changed_by) + " " + t("at") + " " + fmtTime(cur.changed_at) : "";
    var reports = state.reports;
    $("handling-reports").textContent = reports ? "· " + reports.distinct + " " + t("reports_n") : "";
    var form = $("status-form");
    form.hidden = !me.may_set_status;
    var sel = $("status-select");
    if (h && h.statuses && sel.options.length !== h.statuses.length) {
      sel.innerHTML = h.statuses.map(function (s) { return '<option value="' + esc(s) + '"></option>'; }).join("");
    }
    Array.prototype.forEach.call(sel.options, function (o) { o.textContent = handlingName(o.value); });
    $("status-note").placeholder = t("note");
    $("handling-history").innerHTML = (h ? h.history.slice(-5).reverse() : []).map(function (r) {
      return "<li>" + esc(fmtTime(r.changed_at)) + " · <b>" + esc(handlingName(r.status)) + "</b> · " + esc(whoName(r.changed_by)) +
        (r.note ? " · " + esc(r.note) : "") + "</li>";
    }).join("");
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
  function setStatus(ev) {
    ev.preventDefault();
    var id = state.selected; if (!id) return;
    var body = {status: $("status-select").value};
    var note = $("status-note").value.trim(); if (note) body.note = note;
    // The status this officer saw: another officer's change since then is answered 409.
    var seen = state.handling && state.handling.rumour_id === id ? state.handling.status : undefined;
    if (seen !== undefined) {
      body.expected_status = seen ? seen.status : null;
      if (seen) body.expected_changed_at = seen.changed_at;
    }
    $("status-msg").textContent = t("loading");
    function reload() {
      return api("/api/rumours/" + encodeURIComponent(id) + "/status").then(function (h) {
        if (id === state.selected) { state.handling = h; renderHandling(); }
      });
    }
    api("/api/rumours/" + encodeURIComponent(id) + "/status", body).then(function () {
      $("status-msg").textContent = t("status_saved"); $("status-note").value = "";
      return reload();
    }, function (e) {
      $("status-msg").textContent = errText(e);
      if (e.status === 409) reload().then(function () { $("status-msg").textContent = errText(e); });
    });
  }
  // The reports the desk may read that linked to no rumour (GET /api/reports/unlinked: audited,
  // so read when the officer opens the list or links one, never polled), each with a button
  // that links it to the selected rumour by hand.
  function loadUnlinked() {
    if (!$("unlinked").open) return Promise.resolve();
    return api("/api/reports/unlinked?limit=50").then(function (u) {
      state.unlinked = u; renderUnlinked();
    }, function (e) { $("unlinked-msg").textContent = errText(e); });
  }
  function renderUnlinked() {
    var u = state.unlinked, me = state.me;
    $("unlinked-count").textContent = u ? "(" + u.total + ")" : "";
    $("unlinked-list").innerHTML = (u ? u.reports : []).map(function (r) {
      return '<li data-report="' + esc(r.report_id) + '">' + esc(fmtTime(r.reported_at)) + " · " +
        esc(r.text || r.post_id || r.link || "") + " · " + esc(r.reporter) +
        (me && me.may_set_status ? ' <button type="button" class="link-here">' + esc(t("link_here")) + "</button>" : "") + "</li>";
    }).join("");
  }
  function linkReport(ev) {
    var btn = ev.target.closest("button.link-here"); if (!btn) return;
    var rid = btn.closest("li[data-report]").getAttribute("data-report"), id = state.selected;
    if (!id) return;
    $("unlinked-msg").textContent = t("loading");
    var base = "/api/rumours/" + encodeURIComponent(id);
    api("/api/reports/" + encodeURIComponent(rid) + "/link", {rumour_id: id}).then(function () {
      $("unlinked-msg").textContent = t("linked") + ": " + rid;
      return Promise.all([loadUnlinked(),
        api(base + "/reports").then(function (r) { if (id === state.selected) state.reports = r; }),
        api(base + "/status").then(function (h) { if (id === state.selected) state.handling = h; })
      ]).then(function () { renderHandling(); });
    }, function (e) {
      $("unlinked-msg").textContent = errText(e);
      if (e.status === 409) loadUnlinked();
    });
  }
  function renderWho() {
    var me = state.me; if (!me) return;
    $("who").textContent = me.name + " · " + t("role_" + me.role) + " · " + regionName(me.jurisdiction) +
      (me.clear_identities ? "" : " · " + t("pseudonymised"));
    renderExpiry();
  }
  // The token's expiry (from /api/me), with a warning in its last WARN_DAYS days: an expired
  // token gets 401 in the middle of a shift, so the user should see it coming.
  function renderExpiry() {
    var me = state.me, box = $("expiry"); if (!me) return;
    var e = window.RUMOUR_EXPIRY.tokenExpiry(me.expires_at, Date.now());
    box.className = "expiry" + (e.kind === "soon" ? " expiry-soon" : "");
    box.textContent = e.kind === "never" ? t("expires_never")
      : e.kind === "soon" ? t("expires_soon").replace("{days}", e.days).replace("{at}", fmtTime(me.expires_at))
      : t("expires") + " " + fmtTime(me.expires_at);
  }
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
    renderAlerts(); renderHandling(); renderDebunk(); if (tracePanel) tracePanel.render();
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
  function select(id) {
    state.selected = id; state.detail = null; state.tree = null; state.treeEvents = -1; state.chain = null;
    state.treeUnder = null; state.treeBack = []; renderTreePath();
    state.handling = null; state.debunk = null; state.reports = null; renderHandling(); renderDebunk();
    $("tree-facts").textContent = "";
    $("chain").textContent = t("chain_hint");
    $("detail-title").textContent = t("rumour") + " " + id;
    if (tracePanel) tracePanel.render();
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
    tracePanel = window.RUMOUR_TRACE({$: $, t: t, esc: esc, fmtTime: fmtTime, api: api, headers: authHeaders, errorText: errText,
      me: function () { return state.me; }, selected: function () { return state.selected; },
      unauthorised: function () { showLogin(t("bad_token")); }});
    chart("chart-tree");
    window.addEventListener("resize", function () { Object.keys(charts).forEach(function (k) { charts[k].resize(); }); });
    renderAll();
    if (state.token) login().catch(loginFailed); else showLogin("");
  });
  // For tests and debugging: read-only access to the state and the chart instances.
  window.rumourDashboard = {state: state, charts: charts, traceAccount: traceAccount, select: select, goPage: goPage,
    expandTree: expandTree, trace: function () { return tracePanel; }};
})();
