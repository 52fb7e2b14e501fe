// The dashboard's time series with its empty buckets as zeros. The API lists only buckets that
// hold shares ([bucket start ms, count], bucket_ms apart); a line drawn through those alone
// slopes across the empty stretches (a day of 30 shares a month after a day of 1 drew a month-long
// ramp). A pure function, kept apart from app.js so that tests run it without a browser.
(function (root) {
  "use strict";
  var MAX_POINTS = 20000;  // beyond this many buckets the series is drawn as given
  // {rumour: [[t, n]...], debunk: [...]} -> the same, each over every bucket from the first to
  // the last of both series (one common axis), absent buckets 0.
  function fillSeries(series, bucketMs) {
    var keys = Object.keys(series), lo = Infinity, hi = -Infinity;
    keys.forEach(function (k) {
      series[k].forEach(function (p) { lo = Math.min(lo, p[0]); hi = Math.max(hi, p[0]); });
    });
    if (!(bucketMs > 0) || lo > hi || (hi - lo) / bucketMs + 1 > MAX_POINTS) return series;
    var out = {};
    keys.forEach(function (k) {
      var have = {};
      series[k].forEach(function (p) { have[p[0]] = p[1]; });
      var points = [];
      for (var t = lo; t <= hi; t += bucketMs) points.push([t, have[t] || 0]);
      out[k] = points;
    });
    return out;
  }
  root.RUMOUR_SERIES = {fillSeries: fillSeries, MAX_POINTS: MAX_POINTS};
  if (typeof module !== "undefined" && module.exports) module.exports = root.RUMOUR_SERIES;
})(typeof window !== "undefined" ? window : globalThis);
