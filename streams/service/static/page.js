// The dashboard's shared part: its state, the helpers every part uses (texts, times, division
// names) and api(), the one way to the server. The other parts (login.js, list.js, charts.js,
// tree.js, desk.js, app.js) are plain scripts that add their functions to this one object,
// window.RUMOUR_PAGE, and call one another's through it when they run (a part loaded later
// is there by then); app.js, loaded last, wires the page and polls.
// The page itself is public; every data request carries the bearer token kept in sessionStorage.
(function () {
  "use strict";
  var PAGE = 50;  // rows of the rumour list asked for at a time
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
  var P = window.RUMOUR_PAGE = {state: state, tracePanel: null};  // tracePanel: trace.js's, made by app.js
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
      if (resp.status === 401) { P.showLogin(t("bad_token")); throw new Error("401"); }
      if (resp.status === 304) return null;
      if (!resp.ok) return ERRORS.refusal(resp);
      if (onEtag) onEtag(resp.headers.get("ETag"));
      return resp.json();
    }, ERRORS.unreachable);
  }

  P.zone = zone; P.$ = $; P.t = t; P.errText = errText; P.esc = esc; P.fmtTime = fmtTime;
  P.learnNames = learnNames; P.regionName = regionName; P.handlingName = handlingName; P.whoName = whoName;
  P.duration = duration; P.authHeaders = authHeaders; P.api = api;
})();
