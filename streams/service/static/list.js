// The rumour list: a page at a time (state.list.limit rows, a server-side search), asked for
// with the last answer's ETag: an unchanged page is a 304 with no body. Also the line under it
// that says why the page is not current.
(function (P) {
  "use strict";
  var state = P.state, $ = P.$, t = P.t, esc = P.esc, fmtTime = P.fmtTime;

  function listUrl() {
    var l = state.list;
    return "/api/rumours?limit=" + l.limit + (l.offset ? "&offset=" + l.offset : "") +
      (l.q ? "&q=" + encodeURIComponent(l.q) : "");
  }
  // The current page of the list; a 304 keeps the rows already shown. An answer to an
  // earlier search or page (the user typed on while it was under way) is dropped.
  function loadList() {
    var url = listUrl(), l = state.list;
    return P.api(url, undefined, l.url === url ? l.etag : null, function (tag) { if (url === listUrl()) l.etag = tag; })
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
          state.timeZone = list.timezone; $("tz").textContent = t("times_in") + ": " + P.zone();
        }
        list.rumours.forEach(function (r) {
          var n = {}; n[r.region] = r.region_name; n[r.city] = r.city_name; n[r.county] = r.county_name; P.learnNames(n);
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
    box.hidden = !e; box.textContent = e ? P.errText(e) : "";
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
        '<td class="h-' + esc(r.handling ? r.handling.status : "none") + '">' + esc(r.handling ? P.handlingName(r.handling.status) : "–") +
        "</td><td>" + esc(P.regionName(listPlace(r))) +
        "</td><td>" + esc(fmtTime(r.last_ts)) + "</td></tr>";
    }).join("");
  }

  P.loadList = loadList; P.goPage = goPage; P.renderList = renderList; P.renderPollError = renderPollError;
})(window.RUMOUR_PAGE);
