// The dashboard's token: the login form, /api/me, and the header line that names the caller
// and says when the token expires (page.js's state.token, kept in sessionStorage).
(function (P) {
  "use strict";
  var state = P.state, $ = P.$, t = P.t;

  function showLogin(msg) {
    state.token = ""; sessionStorage.removeItem("rumour.token");
    if (P.tracePanel) P.tracePanel.reset();
    $("login-error").textContent = msg || ""; $("login").hidden = false; $("token").focus();
  }
  function login() {
    return P.api("/api/me").then(function (me) {
      state.me = me; $("login").hidden = true;
      var names = {}; names[me.jurisdiction] = me.jurisdiction_name; P.learnNames(names);
      renderWho();
      $("case-box").hidden = !me.case_required;
      P.tracePanel.render();
      P.poll();
    });
  }
  // A token refused other than by 401 (a monitor token: 403 on /api/me), or a server out of
  // reach: say so on the form; the page stayed on it with no word, and kept the token.
  function loginFailed(e) {
    if (e.message !== "401") showLogin(t("login_refused") + (state.lang === "zh-CN" ? "：" : ": ") + P.errText(e));
  }
  function renderWho() {
    var me = state.me; if (!me) return;
    $("who").textContent = me.name + " · " + t("role_" + me.role) + " · " + P.regionName(me.jurisdiction) +
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
      : e.kind === "soon" ? t("expires_soon").replace("{days}", e.days).replace("{at}", P.fmtTime(me.expires_at))
      : t("expires") + " " + P.fmtTime(me.expires_at);
  }

  P.showLogin = showLogin; P.login = login; P.loginFailed = loginFailed;
  P.renderWho = renderWho; P.renderExpiry = renderExpiry;
})(window.RUMOUR_PAGE);
