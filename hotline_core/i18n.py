"""Every text a user reads or hears, in Simplified Chinese and English.

Kept as one catalogue so a test can prove that no text exists in only one language. Texts take
``str.format`` fields.
"""

from __future__ import annotations

from collections.abc import Iterable

LANGUAGES = ("zh", "en")

MESSAGES: dict[str, dict[str, str]] = {
    # --- SMS ---------------------------------------------------------------------------------
    "sms.ack": {
        "zh": "【效能投诉热线】您的投诉已受理，工单号 {number}。回复“查询 {number}”可查看进度。",
        "en": "[Efficiency Hotline] Your complaint is registered as ticket {number}. "
        "Reply STATUS {number} to follow it.",
    },
    "sms.ack_voice": {
        "zh": "【效能投诉热线】您的来电投诉已受理，工单号 {number}。回复“查询 {number}”可查看进度。",
        "en": "[Efficiency Hotline] Your call is registered as ticket {number}. Reply STATUS {number} to follow it.",
    },
    "sms.ack_web": {
        "zh": "【效能投诉热线】您在网上提交的投诉已受理，工单号 {number}。",
        "en": "[Efficiency Hotline] Your web complaint is registered as ticket {number}.",
    },
    "sms.appended": {
        "zh": "【效能投诉热线】补充信息已加入工单 {number}。",
        "en": "[Efficiency Hotline] Your message was added to ticket {number}.",
    },
    "sms.received_later": {
        "zh": "【效能投诉热线】您的信息已收到，工单号将稍后以短信告知。",
        "en": "[Efficiency Hotline] Your message is received; we will text you the ticket number shortly.",
    },
    "sms.status": {
        "zh": "【效能投诉热线】工单 {number} 当前状态：{state}。",
        "en": "[Efficiency Hotline] Ticket {number} is now: {state}.",
    },
    "sms.status_not_found": {
        "zh": "【效能投诉热线】未找到工单 {number}，请核对工单号。",
        "en": "[Efficiency Hotline] No ticket {number} was found for this phone. Please check the number.",
    },
    "sms.stopped": {
        "zh": "【效能投诉热线】您已退订短信通知。回复“订阅”或 START 可恢复。",
        "en": "[Efficiency Hotline] You will get no more texts. Reply START to receive them again.",
    },
    "sms.started": {
        "zh": "【效能投诉热线】您已恢复接收短信通知。",
        "en": "[Efficiency Hotline] You will receive texts again.",
    },
    "sms.empty": {
        "zh": "【效能投诉热线】请用短信描述您要投诉的问题，例如：某窗口办事拖延、态度差。",
        "en": "[Efficiency Hotline] Please describe the problem you want to report in your text.",
    },
    # --- Voice -------------------------------------------------------------------------------
    "voice.greeting": {
        "zh": "您好，这里是效能投诉热线。请在提示后说出您要投诉的问题，说完请稍候。For English, press 1.",
        "en": "Welcome to the efficiency complaint hotline. After the tone, please describe the problem "
        "you want to report, then wait.",
    },
    "voice.ticket_number": {
        "zh": "您的投诉已受理，工单号是 {spoken}。再说一遍，工单号是 {spoken}。",
        "en": "Your complaint is registered. Your ticket number is {spoken}. Again, {spoken}.",
    },
    "voice.record_more": {
        "zh": "如需补充，请在提示音后继续讲述，讲完请按井号键。",
        "en": "To add anything, speak after the tone and press the pound key when you are done.",
    },
    "voice.record_instead": {
        "zh": "没有听清。请在提示音后讲述您的问题，讲完请按井号键。",
        "en": "We did not catch that. Please describe the problem after the tone, then press the pound key.",
    },
    "voice.thanks": {
        "zh": "谢谢您的来电，我们会尽快处理。工单号是 {spoken}。再见。",
        "en": "Thank you for calling. We will handle it promptly. Your ticket number is {spoken}. Goodbye.",
    },
    "voice.nothing_heard": {
        "zh": "没有收到您的讲述。如需投诉，请重新拨打或发送短信。再见。",
        "en": "We did not receive a message. Please call again or send a text. Goodbye.",
    },
    # --- Notifications to units and supervisors (SMS) -----------------------------------------
    "notify.assigned": {
        "zh": "【效能投诉热线】新工单 {number} 已派至贵单位，请于 {due} 前签收并联系市民，{resolve_due} 前办结。",
        "en": "[Efficiency Hotline] New ticket {number} is assigned to your unit: sign for it by {due}, "
        "resolve it by {resolve_due}.",
    },
    "notify.warning": {
        "zh": "【效能投诉热线】工单 {number} 即将超期，期限 {due}，请抓紧办理。",
        "en": "[Efficiency Hotline] Ticket {number} is nearly due ({due}). Please act now.",
    },
    "notify.overdue": {
        "zh": "【效能投诉热线】催办：工单 {number} 已超过期限 {due}，已列入问责清单，请立即办理。",
        "en": "[Efficiency Hotline] Reminder: ticket {number} missed its deadline ({due}) and is on the "
        "accountability list. Act at once.",
    },
    "notify.unit_head": {
        "zh": "【效能投诉热线】督办：贵单位工单 {number} 已超期（期限 {due}），请负责人督促办理。",
        "en": "[Efficiency Hotline] Escalation: your unit's ticket {number} is overdue (due {due}).",
    },
    "notify.supervision": {
        "zh": "【效能投诉热线】督办：工单 {number} 超期未办（期限 {due}），已升级至效能监察办公室。",
        "en": "[Efficiency Hotline] Escalation: ticket {number} is still overdue (due {due}); "
        "now with the supervision office.",
    },
    "notify.leaders": {
        "zh": "【效能投诉热线】通报：工单 {number} 严重超期（期限 {due}），请领导关注。",
        "en": "[Efficiency Hotline] Escalation to leaders: ticket {number} is long overdue (due {due}).",
    },
    # --- To the citizen after routing ----------------------------------------------------------
    "citizen.assigned": {
        "zh": "【效能投诉热线】您的工单 {number} 已交{unit}办理，办结期限 {due}。",
        "en": "[Efficiency Hotline] Ticket {number} is now with the {unit}; due by {due}.",
    },
    "citizen.replied": {
        "zh": "【效能投诉热线】工单 {number} 答复：{text}",
        "en": "[Efficiency Hotline] Reply on ticket {number}: {text}",
    },
    "citizen.resolved": {
        "zh": "【效能投诉热线】工单 {number} 已办结：{text}",
        "en": "[Efficiency Hotline] Ticket {number} is resolved: {text}",
    },
    "survey.ask": {
        "zh": "【效能投诉热线】工单 {number} 回访：问题是否解决？回复1已解决、2未解决；并为服务打分1-5"
        "（5非常满意，1非常不满意），例如回复“1 5”。",
        "en": "[Efficiency Hotline] Ticket {number}: was your problem solved? Reply 1 yes or 2 no, and rate the "
        'service 1-5 (5 = very satisfied), e.g. "1 5".',
    },
    "survey.ask_rating": {
        "zh": "【效能投诉热线】请再回复满意度1-5（5非常满意，1非常不满意）。",
        "en": "[Efficiency Hotline] Please also rate the service 1-5 (5 = very satisfied).",
    },
    "survey.ask_solved": {
        "zh": "【效能投诉热线】请再回复问题是否解决：1已解决，2未解决。",
        "en": "[Efficiency Hotline] Please also tell us: was it solved? Reply 1 yes or 2 no.",
    },
    "survey.thanks": {
        "zh": "【效能投诉热线】感谢您的评价。",
        "en": "[Efficiency Hotline] Thank you for your answer.",
    },
    "survey.reopened": {
        "zh": "【效能投诉热线】很抱歉问题未能解决，工单 {number} 已重新交办。",
        "en": "[Efficiency Hotline] We are sorry. Ticket {number} has been sent back to be done again.",
    },
    "survey.voice_solved": {
        "zh": "您好，这里是效能投诉热线回访。您的工单 {spoken} 已办结。问题已解决请按1，未解决请按2。",
        "en": "Hello, this is the efficiency hotline following up ticket {spoken}. If your problem was solved, "
        "press 1. If not, press 2.",
    },
    "survey.voice_rating": {
        "zh": "请为本次服务打分：非常满意请按5，满意按4，基本满意按3，不满意按2，非常不满意按1。",
        "en": "Please rate the service: press 5 for very satisfied, down to 1 for very dissatisfied.",
    },
    "survey.voice_thanks": {"zh": "感谢您的评价，再见。", "en": "Thank you. Goodbye."},
    "callback.connecting": {
        "zh": "效能投诉热线回拨：正在为您接通市民，请稍候。",
        "en": "Hotline call-back: connecting you to the citizen now.",
    },
    # --- Staff portal: tickets and dispatch ----------------------------------------------------
    "nav.dispatch": {"zh": "派单台", "en": "Dispatch"},
    "nav.extensions": {"zh": "延期审批", "en": "Extensions"},
    "nav.overdue": {"zh": "超期督办", "en": "Overdue"},
    "inbox.filter": {"zh": "筛选", "en": "Filter"},
    "inbox.all_states": {"zh": "全部状态", "en": "All states"},
    "inbox.all_categories": {"zh": "全部类别", "en": "All categories"},
    "inbox.overdue_only": {"zh": "只看超期", "en": "Overdue only"},
    "inbox.category": {"zh": "类别", "en": "Category"},
    "inbox.unit": {"zh": "承办单位", "en": "Unit"},
    "inbox.sign_for": {"zh": "签收期限", "en": "Sign-for"},
    "inbox.resolution": {"zh": "办结期限", "en": "Resolution"},
    "ticket.deadlines": {"zh": "办理期限", "en": "Deadlines"},
    "ticket.assignments": {"zh": "交办单位", "en": "Assigned units"},
    "ticket.actions": {"zh": "办理", "en": "Actions"},
    "ticket.met": {"zh": "已完成", "en": "met"},
    "ticket.closed_clock": {"zh": "已结束", "en": "ended"},
    "ticket.redo": {"zh": "重办次数", "en": "Redone"},
    "ticket.lead": {"zh": "主办", "en": "lead"},
    "ticket.co": {"zh": "协办", "en": "co-handling"},
    "ticket.suggestions": {"zh": "系统建议类别", "en": "Suggested categories"},
    "ticket.duplicates": {"zh": "可能重复的工单", "en": "Possible duplicates"},
    "ticket.pending_extension": {"zh": "待审批的延期申请", "en": "Extension request waiting"},
    "clock.sign_for": {"zh": "签收", "en": "sign-for"},
    "clock.resolution": {"zh": "办结", "en": "resolution"},
    "action.sign": {"zh": "签收", "en": "Sign for"},
    "action.contact": {"zh": "记录已联系市民", "en": "Record contact with the citizen"},
    "action.contact_note": {"zh": "联系情况", "en": "What was said"},
    "action.reply": {"zh": "答复市民（短信并在查询页显示）", "en": "Reply to the citizen (SMS and tracking page)"},
    "action.note": {"zh": "内部备注", "en": "Internal note"},
    "action.resolve": {"zh": "办结", "en": "Resolve"},
    "action.resolve_text": {"zh": "办理结果", "en": "Resolution"},
    "action.evidence": {"zh": "佐证材料", "en": "Evidence files"},
    "action.return": {"zh": "退回（非本单位职责）", "en": "Return (not our responsibility)"},
    "action.reason": {"zh": "理由", "en": "Reason"},
    "action.suggested_unit": {"zh": "建议承办单位", "en": "Suggested unit"},
    "action.extension": {"zh": "申请延期", "en": "Request an extension"},
    "action.new_date": {"zh": "新的办结日期", "en": "New due date"},
    "action.callback": {"zh": "隐私回拨市民", "en": "Call the citizen (number hidden)"},
    "action.route": {"zh": "派单", "en": "Route"},
    "action.lead_unit": {"zh": "主办单位", "en": "Lead unit"},
    "action.co_units": {"zh": "协办单位", "en": "Co-handling units"},
    "action.category": {"zh": "类别", "en": "Category"},
    "action.merge": {"zh": "合并为重复件", "en": "Merge as a duplicate"},
    "action.merge_into": {"zh": "并入工单号", "en": "Into ticket number"},
    "action.pause": {"zh": "暂停计时（等待市民）", "en": "Pause the clock (waiting for the citizen)"},
    "action.resume": {"zh": "恢复计时", "en": "Resume the clock"},
    "action.submit": {"zh": "提交", "en": "Submit"},
    "action.approve": {"zh": "批准", "en": "Approve"},
    "action.refuse": {"zh": "驳回", "en": "Refuse"},
    "action.choose": {"zh": "请选择", "en": "Choose"},
    "action.none": {"zh": "无", "en": "None"},
    "action.sign.done": {"zh": "已签收。", "en": "Signed for."},
    "action.contact.done": {"zh": "已记录联系情况。", "en": "Contact recorded."},
    "action.reply.done": {"zh": "答复已发送。", "en": "Reply sent."},
    "action.note.done": {"zh": "备注已保存。", "en": "Note saved."},
    "action.resolve.done": {"zh": "已办结，将向市民回访。", "en": "Resolved; the citizen will be surveyed."},
    "action.return.done": {"zh": "已退回派单台。", "en": "Returned to the dispatcher."},
    "action.extension.done": {"zh": "延期申请已提交。", "en": "Extension requested."},
    "action.extension.bad_date": {"zh": "日期格式应为 YYYY-MM-DD。", "en": "Give the date as YYYY-MM-DD."},
    "action.extension.approved": {"zh": "已批准延期。", "en": "Extension approved."},
    "action.extension.refused": {"zh": "已驳回延期。", "en": "Extension refused."},
    "action.callback.done": {
        "zh": "正在呼叫您的电话，接听后将接通市民。",
        "en": "Calling your phone; answer to be connected.",
    },
    "action.route.done": {"zh": "已派单。", "en": "Routed."},
    "action.route.need_unit": {"zh": "请选择主办单位。", "en": "Choose a lead unit."},
    "action.merge.done": {"zh": "已合并。", "en": "Merged."},
    "action.merge.not_found": {"zh": "找不到要并入的工单。", "en": "No ticket with that number."},
    "action.pause.done": {"zh": "计时已暂停。", "en": "Clock paused."},
    "action.resume.done": {"zh": "计时已恢复。", "en": "Clock resumed."},
    "dispatch.title": {"zh": "人工派单", "en": "Dispatch queue"},
    "dispatch.empty": {"zh": "没有待派单的工单。", "en": "Nothing waiting for dispatch."},
    "dispatch.returned": {"zh": "被退回", "en": "Returned by"},
    "dispatch.why": {"zh": "转人工原因", "en": "Why it is here"},
    "extensions.title": {"zh": "延期申请", "en": "Extension requests"},
    "extensions.empty": {"zh": "没有待审批的延期申请。", "en": "No extension requests waiting."},
    "extensions.current": {"zh": "当前期限", "en": "Current deadline"},
    "extensions.requested": {"zh": "申请期限", "en": "Requested"},
    "overdue.title": {"zh": "超期与督办", "en": "Overdue and escalated"},
    "overdue.empty": {"zh": "没有超期工单。", "en": "Nothing is overdue."},
    "overdue.level": {"zh": "督办级别", "en": "Level"},
    "overdue.due": {"zh": "期限", "en": "Due"},
    "overdue.still_open": {"zh": "仍未完成", "en": "still open"},
    "level.overdue": {"zh": "超期催办", "en": "overdue: reminded"},
    "level.unit_head": {"zh": "单位负责人督办", "en": "unit head"},
    "level.supervision": {"zh": "效能办督办", "en": "supervision office"},
    "level.leaders": {"zh": "领导通报", "en": "leaders"},
    # --- Staff portal: administration --------------------------------------------------------
    "nav.admin_users": {"zh": "用户管理", "en": "Users"},
    "nav.admin_directory": {"zh": "派单目录", "en": "Dispatch directory"},
    "nav.admin_audit": {"zh": "审计日志", "en": "Audit trail"},
    "role.dispatcher": {"zh": "派单员", "en": "Dispatcher"},
    "role.unit_staff": {"zh": "承办人", "en": "Unit staff"},
    "role.unit_head": {"zh": "单位负责人", "en": "Unit head"},
    "role.auditor": {"zh": "暗访员", "en": "Auditor"},
    "role.leader": {"zh": "领导", "en": "Leader"},
    "role.admin": {"zh": "系统管理员", "en": "Administrator"},
    "admin.users.title": {"zh": "用户管理", "en": "Users"},
    "admin.users.create": {"zh": "新建用户", "en": "Create a user"},
    "admin.users.create_submit": {"zh": "创建用户", "en": "Create user"},
    "admin.users.list": {"zh": "全部用户", "en": "All users"},
    "admin.users.username": {"zh": "用户名", "en": "Username"},
    "admin.users.display_name": {"zh": "显示名称", "en": "Display name"},
    "admin.users.role": {"zh": "角色", "en": "Role"},
    "admin.users.unit": {"zh": "所属单位", "en": "Unit"},
    "admin.users.unit_help": {
        "zh": "承办人和单位负责人必须选择所属单位。",
        "en": "Unit staff and unit heads must belong to a unit.",
    },
    "admin.users.unit_none": {"zh": "无", "en": "None"},
    "admin.users.phone": {"zh": "手机号码（可选）", "en": "Mobile number (optional)"},
    "admin.users.password": {"zh": "初始密码", "en": "Initial password"},
    "admin.users.password_help": {"zh": "至少 {min} 个字符。", "en": "At least {min} characters."},
    "admin.users.new_password": {"zh": "新密码", "en": "New password"},
    "admin.users.status": {"zh": "状态", "en": "Status"},
    "admin.users.actions": {"zh": "操作", "en": "Actions"},
    "admin.users.active": {"zh": "启用", "en": "active"},
    "admin.users.inactive": {"zh": "已停用", "en": "deactivated"},
    "admin.users.deactivate": {"zh": "停用", "en": "Deactivate"},
    "admin.users.activate": {"zh": "启用", "en": "Activate"},
    "admin.users.reset_password": {"zh": "重置密码", "en": "Reset password"},
    "admin.users.created": {"zh": "已创建用户 {username}。", "en": "User {username} created."},
    "admin.users.deactivated": {"zh": "已停用用户 {username}。", "en": "User {username} deactivated."},
    "admin.users.activated": {"zh": "已启用用户 {username}。", "en": "User {username} activated."},
    "admin.users.password_reset": {
        "zh": "已重置用户 {username} 的密码。",
        "en": "The password of {username} was reset.",
    },
    "admin.users.password_too_short": {
        "zh": "密码至少需要 {min} 个字符。",
        "en": "The password needs at least {min} characters.",
    },
    "admin.users.username_invalid": {
        "zh": "用户名须为 2-80 个字符，只能包含文字、数字、点、@、横线和下划线。",
        "en": "A username has 2-80 characters: letters, digits, dots, @, hyphens and underscores.",
    },
    "admin.users.username_taken": {"zh": "用户名 {username} 已存在。", "en": "The username {username} is taken."},
    "admin.users.role_invalid": {"zh": "请选择有效的角色。", "en": "Choose one of the roles."},
    "admin.users.unit_required": {"zh": "该角色必须选择所属单位。", "en": "This role needs a unit."},
    "admin.users.unit_unknown": {"zh": "所选单位不存在。", "en": "The chosen unit does not exist."},
    "admin.users.cannot_deactivate_self": {
        "zh": "不能停用自己的账号。",
        "en": "You cannot deactivate your own account.",
    },
    "admin.directory.title": {"zh": "派单目录", "en": "Dispatch directory"},
    "admin.directory.units": {"zh": "承办单位", "en": "Units"},
    "admin.directory.areas": {"zh": "区域", "en": "Areas"},
    "admin.directory.categories": {"zh": "问题类别", "en": "Categories"},
    "admin.directory.rules": {"zh": "生效的派单规则", "en": "Active routing rules"},
    "admin.directory.download": {"zh": "下载目录（YAML）", "en": "Download the directory (YAML)"},
    "admin.directory.upload": {"zh": "导入目录文件", "en": "Import a directory file"},
    "admin.directory.upload_help": {
        "zh": "整个文件校验通过后才会导入；只要有一处问题，就不会导入任何内容。",
        "en": "The whole file is checked first: if anything is wrong, nothing is imported.",
    },
    "admin.directory.file": {"zh": "文件（YAML 或 CSV）", "en": "File (YAML or CSV)"},
    "admin.directory.table": {"zh": "CSV 文件对应的表", "en": "Table a CSV file holds"},
    "admin.directory.table_auto": {"zh": "按文件名判断", "en": "From the file name"},
    "admin.directory.submit": {"zh": "导入", "en": "Import"},
    "admin.directory.file_required": {"zh": "请选择要导入的文件。", "en": "Choose a file to import."},
    "admin.directory.file_type": {
        "zh": "只支持 .yaml、.yml 或 .csv 文件。",
        "en": "Only .yaml, .yml and .csv files can be imported.",
    },
    "admin.directory.file_encoding": {"zh": "文件必须是 UTF-8 编码。", "en": "The file must be UTF-8 text."},
    "admin.directory.table_required": {
        "zh": "CSV 文件请选择它对应的表（承办单位、区域、问题类别或派单规则）。",
        "en": "For a CSV file, choose the table it holds (units, areas, categories or rules).",
    },
    "admin.directory.problems": {
        "zh": "文件中有 {count} 处问题，未导入任何内容：",
        "en": "The file has {count} problem(s); nothing was imported:",
    },
    "admin.directory.line": {"zh": "第 {line} 行", "en": "line {line}"},
    "admin.directory.imported": {"zh": "已导入 {name}。", "en": "Imported {name}."},
    "admin.directory.summary_section": {
        "zh": "{section}：新增 {created}，更新 {updated}",
        "en": "{section}: {created} new, {updated} updated",
    },
    "admin.directory.summary_rules": {
        "zh": "派单规则：新增 {added}，关闭 {closed}",
        "en": "Routing rules: {added} added, {closed} closed",
    },
    "admin.audit.title": {"zh": "审计日志", "en": "Audit trail"},
    "admin.audit.at": {"zh": "时间", "en": "When"},
    "admin.audit.actor": {"zh": "操作人", "en": "Actor"},
    "admin.audit.action": {"zh": "操作", "en": "Action"},
    "admin.audit.object": {"zh": "对象", "en": "Object"},
    "admin.audit.object_type": {"zh": "对象类型", "en": "Object type"},
    "admin.audit.object_id": {"zh": "对象编号", "en": "Object id"},
    "admin.audit.ip": {"zh": "IP 地址", "en": "IP address"},
    "admin.audit.details": {"zh": "详情", "en": "Details"},
    "admin.audit.action_prefix": {"zh": "操作（开头匹配）", "en": "Action (starts with)"},
    "admin.audit.date_from": {"zh": "起始日期", "en": "From"},
    "admin.audit.date_to": {"zh": "截止日期（含当天）", "en": "To (inclusive)"},
    "admin.audit.filter": {"zh": "筛选", "en": "Filter"},
    "admin.audit.export_csv": {"zh": "导出 CSV", "en": "Export as CSV"},
    "admin.audit.empty": {"zh": "没有符合条件的记录。", "en": "No entries match."},
    "admin.audit.date_invalid": {
        "zh": "日期格式应为 YYYY-MM-DD：{value}",
        "en": "Give dates as YYYY-MM-DD: {value}",
    },
    "admin.audit.page": {
        "zh": "第 {page}/{pages} 页，共 {total} 条",
        "en": "Page {page} of {pages}, {total} entries",
    },
    "admin.audit.newer": {"zh": "较新的记录", "en": "Newer"},
    "admin.audit.older": {"zh": "较早的记录", "en": "Older"},
    # --- Ticket states -----------------------------------------------------------------------
    "state.received": {"zh": "已受理", "en": "received"},
    "state.dispatch": {"zh": "待派单", "en": "awaiting dispatch"},
    "state.assigned": {"zh": "已派单", "en": "assigned to a unit"},
    "state.signed": {"zh": "办理中", "en": "being handled"},
    "state.resolved": {"zh": "已办结", "en": "resolved"},
    "state.closed": {"zh": "已关闭", "en": "closed"},
    "state.merged": {"zh": "已合并", "en": "merged"},
    "state.reopened": {"zh": "重办中", "en": "being redone"},
    # --- Channels ----------------------------------------------------------------------------
    "channel.phone": {"zh": "电话", "en": "phone"},
    "channel.sms": {"zh": "短信", "en": "SMS"},
    "channel.web": {"zh": "网站", "en": "web"},
    # --- Web pages ---------------------------------------------------------------------------
    "site.title": {"zh": "效能投诉热线", "en": "Efficiency Complaint Hotline"},
    "site.tagline": {
        "zh": "办事慢、态度差、不作为？请告诉我们，我们将限时转办并跟踪到底。",
        "en": "Slow, rude or careless public service? Tell us: we route it with a deadline and follow it up.",
    },
    "nav.complain": {"zh": "我要投诉", "en": "File a complaint"},
    "nav.lookup": {"zh": "查询工单", "en": "Track a ticket"},
    "nav.staff": {"zh": "工作人员登录", "en": "Staff sign-in"},
    "nav.logout": {"zh": "退出", "en": "Sign out"},
    "nav.outbox": {"zh": "短信发件箱", "en": "SMS outbox"},
    "nav.tickets": {"zh": "工单", "en": "Tickets"},
    "nav.simulator": {"zh": "电话模拟器", "en": "Phone simulator"},
    "lang.switch": {"zh": "English", "en": "中文"},
    "form.description": {"zh": "问题描述", "en": "What happened?"},
    "form.description_help": {
        "zh": "请写明单位、地点、时间和经过（5-5000字）。",
        "en": "Say which office, where, when and what happened (5-5000 characters).",
    },
    "form.category": {"zh": "问题类别（可选）", "en": "Category (optional)"},
    "form.category_none": {"zh": "不确定，由系统判断", "en": "Not sure: let the hotline decide"},
    "form.district": {"zh": "所在区县（可选）", "en": "District (optional)"},
    "form.district_none": {"zh": "未选择", "en": "Not given"},
    "form.phone": {"zh": "手机号码", "en": "Mobile number"},
    "form.phone_help": {
        "zh": "用于接收工单号和办理结果；查询时需核对后四位。",
        "en": "We text you the ticket number and the outcome; tracking asks for its last four digits.",
    },
    "form.name": {"zh": "姓名（可选）", "en": "Name (optional)"},
    "form.anonymous": {"zh": "匿名投诉（不留姓名和电话）", "en": "Stay anonymous (no name or number kept)"},
    "form.consent": {
        "zh": "同意承办单位直接与我联系",
        "en": "The responsible unit may contact me directly",
    },
    "form.attachments": {"zh": "附件（可选，图片/PDF/音频）", "en": "Files (optional: images, PDF, audio)"},
    "form.attachments_help": {
        "zh": "最多 {count} 个文件，每个不超过 {size} MB。",
        "en": "Up to {count} files, {size} MB each at most.",
    },
    "form.submit": {"zh": "提交投诉", "en": "Submit complaint"},
    "form.required": {"zh": "此项为必填项。", "en": "This field is required."},
    "form.too_short": {"zh": "请至少写 {min} 个字。", "en": "Please write at least {min} characters."},
    "form.too_long": {"zh": "不能超过 {max} 个字。", "en": "At most {max} characters."},
    "form.phone_required": {
        "zh": "请填写手机号码，或选择匿名投诉。",
        "en": "Give a mobile number, or choose to stay anonymous.",
    },
    "form.phone_invalid": {
        "zh": "号码格式不正确：{value}",
        "en": "This does not look like a phone number: {value}",
    },
    "form.file_type": {
        "zh": "不支持的文件类型：{name}",
        "en": "File type not accepted: {name}",
    },
    "form.file_size": {
        "zh": "文件过大：{name}（上限 {size} MB）",
        "en": "File too large: {name} (limit {size} MB)",
    },
    "form.file_count": {"zh": "最多上传 {count} 个文件。", "en": "At most {count} files."},
    "form.errors": {"zh": "请修改以下问题后再提交。", "en": "Please correct the problems below."},
    "form.csrf": {
        "zh": "页面已过期，请刷新后重新提交。",
        "en": "This page has expired. Please reload it and submit again.",
    },
    "filed.title": {"zh": "投诉已受理", "en": "Complaint received"},
    "filed.number": {"zh": "您的工单号", "en": "Your ticket number"},
    "filed.keep": {
        "zh": "请保存工单号。凭工单号和手机号后四位可随时查询进度。",
        "en": "Keep this number. With it and the last four digits of your phone you can track the ticket.",
    },
    "filed.keep_code": {
        "zh": "请保存工单号和查询码 {code}，匿名投诉凭此查询进度。",
        "en": "Keep the ticket number and the access code {code}: anonymous tickets are tracked with them.",
    },
    "lookup.title": {"zh": "查询工单", "en": "Track a ticket"},
    "lookup.number": {"zh": "工单号", "en": "Ticket number"},
    "lookup.last4": {
        "zh": "手机号后四位（匿名投诉填查询码）",
        "en": "Last four digits of your phone (or the access code)",
    },
    "lookup.submit": {"zh": "查询", "en": "Track"},
    "lookup.not_found": {
        "zh": "没有找到匹配的工单，请核对工单号和后四位。",
        "en": "No ticket matches that number and those digits.",
    },
    "ticket.state": {"zh": "状态", "en": "State"},
    "ticket.filed_at": {"zh": "受理时间", "en": "Received"},
    "ticket.channel": {"zh": "渠道", "en": "Channel"},
    "ticket.text": {"zh": "投诉内容", "en": "Complaint"},
    "ticket.timeline": {"zh": "办理记录", "en": "Timeline"},
    "ticket.phone": {"zh": "来电号码", "en": "Citizen's phone"},
    "ticket.needs_review": {"zh": "需人工听取录音", "en": "Needs a person to listen"},
    "ticket.attachments": {"zh": "附件", "en": "Attachments"},
    "event.received": {"zh": "投诉已受理", "en": "Complaint received"},
    "event.citizen_message": {"zh": "市民补充信息", "en": "Citizen added a message"},
    "event.attachment_added": {"zh": "新增附件", "en": "Attachment added"},
    "event.recording_added": {"zh": "新增录音", "en": "Recording added"},
    "event.acknowledged": {"zh": "已告知市民工单号", "en": "Citizen told the ticket number"},
    "event.flagged_for_review": {"zh": "标记为需人工听取", "en": "Marked for a person to listen"},
    "event.processed": {"zh": "已进入分拨流程", "en": "Passed to dispatch"},
    "event.classified": {"zh": "自动分类", "en": "Classified"},
    "event.queued_for_dispatch": {"zh": "转人工派单", "en": "Sent to the dispatch queue"},
    "event.assigned": {"zh": "已派至承办单位", "en": "Assigned to a unit"},
    "event.deadline_set": {"zh": "设定办理期限", "en": "Deadline set"},
    "event.deadline_changed": {"zh": "办理期限调整", "en": "Deadline changed"},
    "event.deadline_warning": {"zh": "即将超期提醒", "en": "Deadline warning"},
    "event.overdue": {"zh": "已超期", "en": "Overdue"},
    "event.escalated": {"zh": "升级督办", "en": "Escalated"},
    "event.reminder": {"zh": "催办", "en": "Reminder sent"},
    "event.returned": {"zh": "承办单位退回", "en": "Returned by the unit"},
    "event.clock_paused": {"zh": "计时暂停", "en": "Clock paused"},
    "event.clock_resumed": {"zh": "计时恢复", "en": "Clock resumed"},
    "event.category_set": {"zh": "人工确定类别", "en": "Category set by a dispatcher"},
    "event.signed": {"zh": "承办单位已签收", "en": "Signed for by the unit"},
    "event.resolved": {"zh": "已办结", "en": "Resolved"},
    "event.replied": {"zh": "承办单位答复", "en": "Reply from the unit"},
    "event.contacted": {"zh": "已联系市民", "en": "Citizen contacted"},
    "event.note": {"zh": "内部备注", "en": "Internal note"},
    "event.survey_sent": {"zh": "发起回访", "en": "Survey sent"},
    "event.survey_answered": {"zh": "市民评价", "en": "Citizen's rating"},
    "event.survey_no_reply": {"zh": "回访未回复", "en": "No reply to the survey"},
    "event.reopened": {"zh": "重办", "en": "Reopened to be redone"},
    "event.closed": {"zh": "已关闭", "en": "Closed"},
    "event.merged": {"zh": "合并为重复件", "en": "Merged as a duplicate"},
    "event.merged_in": {"zh": "并入重复件", "en": "A duplicate was merged in"},
    "event.extension_requested": {"zh": "申请延期", "en": "Extension requested"},
    "event.extension_refused": {"zh": "延期申请被驳回", "en": "Extension refused"},
    "event.callback_placed": {"zh": "发起隐私回拨", "en": "Masked call-back placed"},
    "login.title": {"zh": "工作人员登录", "en": "Staff sign-in"},
    "login.username": {"zh": "用户名", "en": "Username"},
    "login.password": {"zh": "密码", "en": "Password"},
    "login.submit": {"zh": "登录", "en": "Sign in"},
    "login.failed": {"zh": "用户名或密码不正确。", "en": "Wrong username or password."},
    "login.locked": {
        "zh": "登录失败次数过多，请 {minutes} 分钟后再试。",
        "en": "Too many failed attempts. Try again in {minutes} minutes.",
    },
    "staff.home": {"zh": "工作台", "en": "Workspace"},
    "staff.welcome": {"zh": "{name}，您好", "en": "Hello, {name}"},
    "outbox.title": {"zh": "短信发件箱", "en": "SMS outbox"},
    "outbox.to": {"zh": "收件号码", "en": "To"},
    "outbox.body": {"zh": "内容", "en": "Message"},
    "outbox.kind": {"zh": "类型", "en": "Kind"},
    "outbox.status": {"zh": "状态", "en": "Status"},
    "outbox.created": {"zh": "创建时间", "en": "Created"},
    "outbox.attempts": {"zh": "尝试次数", "en": "Attempts"},
    "outbox.empty": {"zh": "发件箱为空。", "en": "The outbox is empty."},
    "outbox.no_credentials_note": {
        "zh": "未配置 Twilio 账号：短信只记录，不实际发送。",
        "en": "No Twilio account is configured: messages are recorded here, not sent.",
    },
    "msgstatus.pending": {"zh": "待发送", "en": "waiting to send"},
    "msgstatus.not_sent_no_credentials": {"zh": "未发送（无凭据）", "en": "not sent (no credentials)"},
    "msgstatus.opted_out": {"zh": "未发送（已退订）", "en": "not sent (opted out)"},
    "msgstatus.queued": {"zh": "已排队", "en": "queued"},
    "msgstatus.sending": {"zh": "发送中", "en": "sending"},
    "msgstatus.sent": {"zh": "已发送", "en": "sent"},
    "msgstatus.delivered": {"zh": "已送达", "en": "delivered"},
    "msgstatus.undelivered": {"zh": "未送达", "en": "undelivered"},
    "msgstatus.failed": {"zh": "发送失败", "en": "failed"},
    "tickets.title": {"zh": "工单列表", "en": "Tickets"},
    "tickets.empty": {"zh": "暂无工单。", "en": "No tickets yet."},
    "sim.title": {"zh": "电话模拟器", "en": "Phone simulator"},
    "sim.intro": {
        "zh": "模拟市民来电和短信：本页按 Twilio 的格式签名后发送到本服务，并显示服务的 TwiML 回复。",
        "en": "Try the hotline as a citizen: this page signs requests exactly as Twilio does, posts them "
        "to this service and shows its TwiML replies.",
    },
    "sim.from": {"zh": "市民号码", "en": "Citizen's number"},
    "sim.sms": {"zh": "发短信", "en": "Send a text"},
    "sim.call": {"zh": "打电话（说一句话）", "en": "Call (say one sentence)"},
    "sim.message": {"zh": "内容", "en": "Text"},
    "sim.english": {"zh": "按 1 选英文", "en": "Press 1 for English"},
    "sim.send": {"zh": "发送", "en": "Send"},
    "sim.conversation": {"zh": "对话记录", "en": "Conversation"},
    "error.title": {"zh": "出错了", "en": "Something went wrong"},
    "error.403": {"zh": "您无权查看此页面。", "en": "You may not see this page."},
    "error.404": {"zh": "页面不存在。", "en": "There is no such page."},
    "error.413": {"zh": "提交的内容过大。", "en": "What you sent is too large."},
    "error.400": {"zh": "请求无效。", "en": "The request is not valid."},
    "error.500": {
        "zh": "服务器内部错误，已记录。您已提交的内容不会丢失。",
        "en": "An internal error occurred and was logged. Nothing you already submitted is lost.",
    },
}


def t(key: str, language: str = "zh", **fields: object) -> str:
    """The text for ``key`` in ``language`` (falling back to Chinese), with fields filled in."""
    entry = MESSAGES[key]
    text = entry.get(language) or entry["zh"]
    return text.format(**fields) if fields else text


def missing_translations(languages: Iterable[str] = LANGUAGES) -> list[str]:
    return [f"{key}:{lang}" for key, entry in MESSAGES.items() for lang in languages if not entry.get(lang)]


def guess_language(text: str, default: str = "zh") -> str:
    """Chinese if the text holds any CJK character, English if it is plain Latin text."""
    if any("\u4e00" <= ch <= "\u9fff" for ch in text):
        return "zh"
    if any(ch.isalpha() for ch in text):
        return "en"
    return default


def spoken_number(number: str) -> str:
    """``2026-000123`` -> ``2 0 2 6, 0 0 0 1 2 3`` so text-to-speech reads digit by digit."""
    return ", ".join(" ".join(part) for part in number.split("-"))
