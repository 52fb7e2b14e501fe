// The dashboard's time series with its empty buckets as zeros, on the centre's clock. The API
// lists only buckets that hold shares ([bucket start ms, count], bucket_ms apart; hours and days
// are local to the answer's timezone, a day lasting 23 or 25 hours across a DST change); a line
// drawn through those alone slopes across the empty stretches (a day of 30 shares a month after
// a day of 1 drew a month-long ramp). Pure functions, kept apart from app.js so that tests run
// them without a browser.
(function (root) {
  "use strict";
  var MAX_POINTS = 20000;  // beyond this many buckets the series is drawn as given
  var DAY_MS = 86400000;
  var formats = {};
  // The wall clock of instant ms in timeZone, read as if it were UTC (epoch ms): a chart with
  // useUTC then labels its axis in the centre's zone whatever the browser's zone is.
  function wallClock(ms, timeZone) {
    var f = formats[timeZone] || (formats[timeZone] = new Intl.DateTimeFormat("en-US", {
      timeZone: timeZone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
      hour: "numeric", minute: "numeric", second: "numeric"}));
    var p = {};
    f.formatToParts(new Date(ms)).forEach(function (x) { p[x.type] = x.value; });
    var ms1000 = ((ms % 1000) + 1000) % 1000;
    return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute, +p.second) + ms1000;
  }
  function fill(series, step) {
    var keys = Object.keys(series), lo = Infinity, hi = -Infinity;
    keys.forEach(function (k) {
      series[k].forEach(function (p) { lo = Math.min(lo, p[0]); hi = Math.max(hi, p[0]); });
    });
    if (!(step > 0) || lo > hi || (hi - lo) / step + 1 > MAX_POINTS) return series;
    var out = {};
    keys.forEach(function (k) {
      var have = {};
      series[k].forEach(function (p) { have[p[0]] = p[1]; });
      var points = [];
      for (var t = lo; t <= hi; t += step) points.push([t, have[t] || 0]);
      out[k] = points;
    });
    return out;
  }
  // Each time on the zone's wall clock; a day bucket at its local midnight (a day whose
  // midnight is skipped by a change at 00:00 starts at 01:00: still that day's midnight here).
  function toWall(series, timeZone, day) {
    var out = {};
    Object.keys(series).forEach(function (k) {
      out[k] = series[k].map(function (p) {
        var w = wallClock(p[0], timeZone);
        return [day ? w - (((w % DAY_MS) + DAY_MS) % DAY_MS) : w, p[1]];
      });
    });
    return out;
  }
  // {rumour: [[t, n]...], debunk: [...]} -> the same, each over every bucket from the first to
  // the last of both series (one common axis), absent buckets 0. Without timeZone the times stay
  // epoch ms; with it they are the zone's wall clock read as UTC (see wallClock), where local
  // days are all 24 hours apart (the filling of day buckets happens there). Minute and hour
  // buckets are filled on real time first: a repeated or skipped local hour stays as it was.
  function fillSeries(series, bucketMs, timeZone) {
    if (!timeZone) return fill(series, bucketMs);
    if (bucketMs >= DAY_MS) return fill(toWall(series, timeZone, true), bucketMs);
    return toWall(fill(series, bucketMs), timeZone, false);
  }
  root.RUMOUR_SERIES = {fillSeries: fillSeries, wallClock: wallClock, MAX_POINTS: MAX_POINTS};
  if (typeof module !== "undefined" && module.exports) module.exports = root.RUMOUR_SERIES;
})(typeof window !== "undefined" ? window : globalThis);
