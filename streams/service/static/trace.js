// The rumour's origin trace and its evidence package on the dashboard (GET /api/rumours/{id}/trace
// and /evidence): what a liaison did with curl. app.js owns the page; it gives this panel the
// request headers (token, case number), the texts and the clock, and calls render() on a change
// of rumour or language. The inferred parents (?parents=1) are leads, not evidence: they are
// listed in a section of their own, never drawn as hops of a chain.
window.RUMOUR_TRACE = function (page) {
  "use strict";
  var t = page.t, esc = page.esc, fmtTime = page.fmtTime, $ = page.$;
  var shown = null;  // {rumour, answer} | {rumour, error}
  var exported = null;  // {rumour, name, url, size, digest} | {rumour, error}

  function base() { return "/api/rumours/" + encodeURIComponent(page.selected()); }
  function parents() { return $("trace-parents").checked; }
  // Errors are kept as they came ({code, status, message}) and put in words when shown, so a
  // change of language shows them in the new one (errors.js).
  var errText = page.errorText;
  var NEED_CASE = {code: "case_required"};
  function caseMissing() { return page.me().case_required && !$("case").value.trim(); }

  // The server's file name: filename* (RFC 6266, a case number is often Chinese) before filename.
  function fileName(disposition) {
    var star = /filename\*=UTF-8''([^;]+)/i.exec(disposition || "");
    if (star) { try { return decodeURIComponent(star[1]); } catch (e) { /* the plain one below */ } }
    var plain = /filename="([^"]*)"/i.exec(disposition || "");
    return plain ? plain[1] : "evidence.zip";
  }

  function trace() {
    var rumour = page.selected();
    if (caseMissing()) { shown = {rumour: rumour, error: NEED_CASE}; render(); return Promise.resolve(); }
    $("trace-out").textContent = t("loading");
    return page.api(base() + "/trace" + (parents() ? "?parents=1" : "")).then(function (a) {
      shown = {rumour: rumour, answer: a}; render();
    }, function (e) {
      if (e.message === "401") return;
      shown = {rumour: rumour, error: e}; render();
    });
  }

  // The zip through fetch (the token and case number go as headers, never in the URL), then a
  // link to the blob under the server's file name, clicked once and left in the panel.
  function exportPackage() {
    var rumour = page.selected();
    if (caseMissing()) { exported = {rumour: rumour, error: NEED_CASE}; render(); return Promise.resolve(); }
    $("export-out").textContent = t("loading");
    return fetch(base() + "/evidence" + (parents() ? "?parents=1" : ""), {headers: page.headers(), cache: "no-store"})
      .catch(window.RUMOUR_ERRORS.unreachable)  // no answer at all: said as such, not "Failed to fetch"
      .then(function (resp) {
        if (resp.status === 401) { page.unauthorised(); throw new Error("401"); }
        if (!resp.ok) return window.RUMOUR_ERRORS.refusal(resp);
        return resp.blob().then(function (blob) {
          if (exported && exported.url) URL.revokeObjectURL(exported.url);
          exported = {rumour: rumour, name: fileName(resp.headers.get("Content-Disposition")), size: blob.size,
                      blob: blob, url: URL.createObjectURL(blob), digest: resp.headers.get("X-Evidence-Digest"), parents: parents()};
          render();
          $("export-link").click();
        });
      })
      .catch(function (e) {
        if (e.message === "401") return;
        exported = {rumour: rumour, error: e}; render();
      });
  }

  function hop(h) {
    return "<li><b>" + esc(h.account_id) + "</b> · " + esc(h.event_id || "?") + " · " + esc(fmtTime(h.ts)) + "</li>";
  }
  // Each origin with the chains that end at it (a chain runs from a cut-off candidate back to its origin).
  function originsHtml(a) {
    return a.origins.map(function (o) {
      var chains = a.chains.filter(function (c) { var last = c.hops[c.hops.length - 1]; return last && last.event_id === o.event_id; });
      return '<li class="origin-row"><b>' + esc(o.account_id) + "</b> · " + esc(o.event_id || "?") + " · " +
        esc(o.ts ? fmtTime(o.ts) : t("not_observed")) + " · " + esc(t("confidence")) + " " + esc(o.confidence) +
        " · " + esc(t("reach")) + " " + esc(o.reach) +
        (chains.length ? chains.map(function (c) { return '<ol class="hops">' + c.hops.map(hop).join("") + "</ol>"; }).join("")
          : ' <span class="muted">(' + esc(t("no_chain")) + ")</span>") + "</li>";
    }).join("");
  }
  function inferredHtml(a) {
    var links = Object.keys(a.parents);
    return '<div class="inferred"><h4>' + esc(t("inferred_title")) + "</h4>" +
      (links.length ? "<ul>" + links.map(function (ev) {
        var p = a.parent_probability[ev];
        return '<li data-event="' + esc(ev) + '">' + esc(ev) + " ⇠ " + esc(a.parents[ev] == null ? t("no_parent") : a.parents[ev]) +
          " · " + esc(t("probability")) + " " + esc(p == null ? "–" : p) + "</li>";
      }).join("") + "</ul>" : '<p class="muted">' + esc(t("no_inferred")) + "</p>") + "</div>";
  }

  function render() {
    var me = page.me(), rumour = page.selected();
    var box = $("trace-panel");
    box.hidden = !me || !rumour || !me.may_trace;
    if (box.hidden) return;
    $("trace-export").hidden = !me.may_export;
    $("export-out").hidden = !me.may_export;
    var out = $("trace-out");
    if (!shown || shown.rumour !== rumour) { out.innerHTML = ""; }
    else if (shown.error) { out.innerHTML = '<p class="error">' + esc(errText(shown.error)) + "</p>"; }
    else {
      var a = shown.answer;
      out.innerHTML = "<h4>" + esc(t("origins")) + "</h4><ol class=\"origins\">" + originsHtml(a) + "</ol>" +
        "<h4>" + esc(t("cutoff_accounts")) + "</h4>" + (a.cutoff.length ? '<ul class="cutoffs">' + a.cutoff.map(function (c) {
          return "<li><b>" + esc(c.account_id) + "</b> · " + esc(t("prevented")) + " " + esc(c.prevented) + "</li>";
        }).join("") + "</ul>" : '<p class="muted">' + esc(t("no_cutoff")) + "</p>") +
        (a.parents ? inferredHtml(a) : "");
    }
    var ex = $("export-out");
    if (!exported || exported.rumour !== rumour) { ex.innerHTML = ""; }
    else if (exported.error) { ex.innerHTML = '<p class="error">' + esc(errText(exported.error)) + "</p>"; }
    else {
      ex.innerHTML = '<a id="export-link" href="' + esc(exported.url) + '" download="' + esc(exported.name) + '">' +
        esc(exported.name) + "</a> <span class=\"muted\">" + esc(exported.size) + " B" +
        (exported.parents ? " · " + esc(t("with_inferred")) : "") + "</span>";
    }
  }

  // Another token (a logout, a refused one) sees nothing of the last one's answers.
  function reset() {
    if (exported && exported.url) URL.revokeObjectURL(exported.url);
    shown = null; exported = null; render();
  }

  $("trace-run").addEventListener("click", trace);
  $("trace-export").addEventListener("click", exportPackage);
  $("trace-parents").addEventListener("change", function () { if (shown && !shown.error) trace(); });
  return {render: render, reset: reset, trace: trace, exportPackage: exportPackage, fileName: fileName,
          shown: function () { return shown; }, exported: function () { return exported; }};
};
