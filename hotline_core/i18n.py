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
