// The API's refusals in the user's words: every error answer carries a stable `code`
// (streams/service/error_codes.py) beside the server's English `error`; the page shows the code's
// text in the page's language, and the server's text only for a code this table does not know
// (a newer server). A pure function of the error and the language, kept apart from app.js so
// that tests run it in node; tests/test_error_codes.py checks that this table and the server's
// codes are the same set.
(function (root) {
  "use strict";
  // code -> [zh-CN, en]. A 404 for a rumour says "or outside your jurisdiction" in both cases:
  // the server answers both alike on purpose, and so does the page.
  var SERVER = {
    token_required: ["令牌无效、已过期或已吊销，请重新输入", "Invalid, expired or revoked token: enter it again"],
    tokens_unreadable: ["服务器暂时无法核验令牌（令牌文件不可读），请稍后重试并通知管理员",
      "The server cannot check tokens now (its tokens file is unreadable): try again later and tell an admin"],
    role_forbidden: ["当前角色无权执行此操作", "Your role may not do this"],
    pseudonym_only: ["当前角色只能按假名（psn_、pev_）追溯账号和事件", "Your role traces accounts and events by pseudonym (psn_, pev_) only"],
    outside_jurisdiction: ["所选地区不在本令牌的辖区内", "That division is outside your token's jurisdiction"],
    national_admin_only: ["仅全国（000000）管理员可查看", "Only a national (000000) admin may see this"],
    unknown_rumour: ["找不到该谣言，或它不在您的辖区内", "No such rumour, or none in your jurisdiction"],
    unknown_event: ["找不到该事件", "No such event"],
    unknown_account: ["找不到该账号", "No such account"],
    no_cascade: ["该谣言只有辟谣转发，没有可绘制或追溯的传播树", "This rumour has only debunks: no cascade to draw or trace"],
    unknown_report: ["找不到该举报", "No such report"],
    no_debunk_figures: ["该谣言暂无辟谣数据", "No debunk figures for this rumour"],
    no_such_route: ["请求的地址不存在", "No such address on the server"],
    no_such_file: ["页面文件不存在", "No such page file"],
    bad_parameter: ["请求参数无效", "Invalid request parameter"],
    bad_path: ["请求地址无效", "Invalid address"],
    case_required: ["请先填写案件编号", "Enter a case number first"],
    bad_case: ["案件编号无效：1-64 个字母、数字、空格或 - . / : # ( ) [ ]（含全角括号）",
      "Invalid case number: 1-64 letters, digits, spaces or - . / : # ( ) [ ] (full-width brackets too)"],
    bad_body: ["提交的内容无效", "Invalid submission"],
    body_too_large: ["提交的内容过大", "The submission is too large"],
    body_not_json: ["提交的内容格式不对（需要 JSON）", "The submission is not JSON"],
    method_not_allowed: ["不支持该请求方式", "This request method is not allowed here"],
    malformed_request: ["请求格式错误", "Malformed request"],
    url_not_encoded: ["地址中含有未编码的字符", "The address holds characters that must be percent-encoded"],
    header_too_long: ["请求头过长", "A request header is too long"],
    bad_request: ["请求被拒绝", "Request refused"],
    status_conflict: ["处置状态已被他人更改：已重新载入，请确认后再提交", "Someone changed the status meanwhile: it is reloaded, check it and try again"],
    report_linked: ["该举报已关联到谣言", "This report is linked to a rumour already"],
    governance_off: ["本进程未运行治理模块", "The governance loop does not run in this process"],
    audit_unavailable: ["审计日志暂时无法写入，结果未返回，请稍后重试", "The audit log cannot be written now, so no answer is given: try again later"],
    status_unchecked: ["暂时无法核对处置状态，未作更改，请稍后重试", "The status could not be checked, nothing changed: try again"],
    store_unavailable: ["数据存储暂时无法访问，请稍后重试", "The data store cannot be reached now: try again later"],
    vendor_missing: ["服务器缺少页面组件，请通知管理员", "A page library is missing on the server: tell an admin"],
    internal_error: ["服务器内部错误，请稍后重试", "Server error: try again later"]
  };
  // Codes whose server text adds what the code cannot say (which parameter, which field): it
  // follows the translated text, as the server gave it.
  var DETAIL = {bad_parameter: true, bad_body: true, bad_request: true, method_not_allowed: true};
  // The page's own: no answer at all (network, server down), or an answer that is no JSON
  // (a proxy's error page).
  var CLIENT = {
    unreachable: ["无法连接服务器，请检查网络后重试", "Cannot reach the server: check the network and try again"],
    not_json: ["服务器返回了无法识别的应答", "The server's answer could not be read"]
  };

  // The text of an error for the page: e.code (the API's, or unreachable / not_json), e.status
  // and e.message (the server's text), as refusal() and page.js's api() make them.
  function errorText(lang, e) {
    var i = lang === "zh-CN" ? 0 : 1;
    e = e || {};
    var entry = SERVER[e.code] || CLIENT[e.code];
    if (entry) {
      var detail = DETAIL[e.code] && e.message && e.message !== entry[1] ? e.message : "";
      return entry[i] + (detail ? (i === 0 ? "（" + detail + "）" : " (" + detail + ")") : "");
    }
    // A code this table does not know (a newer server): the server's text.
    return e.message || (e.status ? "HTTP " + e.status : CLIENT.unreachable[i]);
  }

  // The error of a response that is not ok (a Promise that rejects): the API's code and text,
  // or not_json when the body is none of the API's (a proxy's page).
  function refusal(resp) {
    return resp.json().then(function (body) { return body || {}; }, function () { return {code: "not_json"}; })
      .then(function (body) {
        var e = new Error(body.error || "HTTP " + resp.status);
        e.status = resp.status; e.code = body.code; e.body = body;
        throw e;
      });
  }
  // A fetch that got no answer (network down, server stopped).
  function unreachable(err) {
    var e = new Error(err && err.message || "unreachable"); e.code = "unreachable"; throw e;
  }

  root.RUMOUR_ERRORS = {text: errorText, refusal: refusal, unreachable: unreachable, codes: Object.keys(SERVER), clientCodes: Object.keys(CLIENT)};
  if (typeof module !== "undefined" && module.exports) module.exports = root.RUMOUR_ERRORS;
})(typeof window !== "undefined" ? window : globalThis);
