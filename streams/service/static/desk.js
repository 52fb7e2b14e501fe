// The governance desk (when the service runs the governance module): the jurisdiction's
// alerts, the selected rumour's handling status with its reports and history, the form that
// sets the status, and the reports linked to no rumour with a button that links one here.
(function (P) {
  "use strict";
  var state = P.state, $ = P.$, t = P.t, esc = P.esc, fmtTime = P.fmtTime, errText = P.errText, api = P.api;
  var regionName = P.regionName, learnNames = P.learnNames, handlingName = P.handlingName, whoName = P.whoName;

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

  P.renderAlerts = renderAlerts; P.renderHandling = renderHandling; P.setStatus = setStatus;
  P.loadUnlinked = loadUnlinked; P.linkReport = linkReport;
})(window.RUMOUR_PAGE);
