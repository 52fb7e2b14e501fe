// When the caller's token expires, as the page header shows it. A pure function of the
// /api/me answer and the clock, kept apart from app.js so that tests run it without a browser.
(function (root) {
  "use strict";
  var WARN_DAYS = 7;  // a token this close to its end gets a warning: time to ask for a new one
  var DAY_MS = 86400000;
  // {kind: "never" | "ok" | "soon" | "expired", days: whole days begun before the expiry, at: ms}
  function tokenExpiry(expiresAt, nowMs) {
    if (!expiresAt || expiresAt === "never") return {kind: "never", days: null, at: null};
    var at = Date.parse(expiresAt);
    if (isNaN(at)) return {kind: "never", days: null, at: null};
    var left = at - nowMs;
    if (left <= 0) return {kind: "expired", days: 0, at: at};
    return {kind: left <= WARN_DAYS * DAY_MS ? "soon" : "ok", days: Math.ceil(left / DAY_MS), at: at};
  }
  root.RUMOUR_EXPIRY = {tokenExpiry: tokenExpiry, WARN_DAYS: WARN_DAYS};
  if (typeof module !== "undefined" && module.exports) module.exports = root.RUMOUR_EXPIRY;
})(typeof window !== "undefined" ? window : globalThis);
