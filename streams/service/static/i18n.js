// Texts of the dashboard in zh-CN and English, and names of provincial-level divisions.
window.RUMOUR_I18N = {
  "zh-CN": {
    title: "谣言传播态势", case: "案件编号", logout: "退出", login: "输入访问令牌",
    login_hint: "令牌由管理员用 rumour token issue 签发；仅保存在本标签页（sessionStorage）。",
    enter: "进入", rumours: "谣言列表", rumour: "谣言", size: "规模", growth: "近1小时", status: "状态",
    region: "地区", last: "最近", pick: "请选择一条谣言", series: "转发量随时间（谣言 vs 辟谣）",
    regions: "地区分布", province: "省", city: "市", county: "县", tree: "传播树", origin: "源头",
    cutoff: "阻断候选", tree_hint: "点击节点展开/折叠，并查看该账号的证据链。", spreaders: "主要传播者（被转发次数）",
    chain: "证据链", chain_hint: "点击传播树中的账号。", polling: "每 2 秒刷新", rumour_series: "谣言",
    debunk_series: "辟谣", unknown: "未知", bad_token: "令牌无效或已吊销", forbidden: "无权访问",
    need_case: "请先填写案件编号", as_of: "数据截至", times_in: "时间显示时区", hop: "跳",
    event: "事件", account: "账号", platform: "平台", text_hash: "文本哈希", no_chain: "无证据链",
    spreading: "传播中", contested: "传播中（已辟谣）", debunked: "已辟谣", dormant: "平息",
    shares: "转发", reshares: "被转发", role_analyst: "分析员", role_liaison: "警务联络", role_admin: "管理员",
    pseudonymised: "账号已假名化", loading: "加载中…", more: "更多"
  },
  "en": {
    title: "Rumour spread", case: "Case number", logout: "Log out", login: "Enter your access token",
    login_hint: "Tokens are issued by an admin with rumour token issue; kept in this tab only (sessionStorage).",
    enter: "Enter", rumours: "Rumours", rumour: "Rumour", size: "Size", growth: "Last hour", status: "Status",
    region: "Region", last: "Latest", pick: "Pick a rumour", series: "Shares over time (rumour vs debunk)",
    regions: "Regions", province: "Province", city: "City", county: "County", tree: "Cascade tree", origin: "origin",
    cutoff: "cut-off candidate", tree_hint: "Click a node to expand/collapse it and see that account's chain.",
    spreaders: "Top spreaders (times reshared)", chain: "Chain of evidence", chain_hint: "Click an account in the tree.",
    polling: "refreshed every 2 s", rumour_series: "rumour", debunk_series: "debunk", unknown: "unknown",
    bad_token: "Invalid or revoked token", forbidden: "Not allowed", need_case: "Enter a case number first",
    as_of: "Data as of", times_in: "Times shown in", hop: "hop", event: "event", account: "account",
    platform: "platform", text_hash: "text hash", no_chain: "no chain", spreading: "spreading",
    contested: "spreading (debunked)", debunked: "debunked", dormant: "dormant", shares: "shares",
    reshares: "reshared", role_analyst: "analyst", role_liaison: "police liaison", role_admin: "admin",
    pseudonymised: "accounts pseudonymised", loading: "loading…", more: "more"
  }
};
window.RUMOUR_PROVINCES = {
  "11": ["北京", "Beijing"], "12": ["天津", "Tianjin"], "13": ["河北", "Hebei"], "14": ["山西", "Shanxi"],
  "15": ["内蒙古", "Inner Mongolia"], "21": ["辽宁", "Liaoning"], "22": ["吉林", "Jilin"],
  "23": ["黑龙江", "Heilongjiang"], "31": ["上海", "Shanghai"], "32": ["江苏", "Jiangsu"],
  "33": ["浙江", "Zhejiang"], "34": ["安徽", "Anhui"], "35": ["福建", "Fujian"], "36": ["江西", "Jiangxi"],
  "37": ["山东", "Shandong"], "41": ["河南", "Henan"], "42": ["湖北", "Hubei"], "43": ["湖南", "Hunan"],
  "44": ["广东", "Guangdong"], "45": ["广西", "Guangxi"], "46": ["海南", "Hainan"], "50": ["重庆", "Chongqing"],
  "51": ["四川", "Sichuan"], "52": ["贵州", "Guizhou"], "53": ["云南", "Yunnan"], "54": ["西藏", "Tibet"],
  "61": ["陕西", "Shaanxi"], "62": ["甘肃", "Gansu"], "63": ["青海", "Qinghai"], "64": ["宁夏", "Ningxia"],
  "65": ["新疆", "Xinjiang"], "71": ["台湾", "Taiwan"], "81": ["香港", "Hong Kong"], "82": ["澳门", "Macao"]
};
