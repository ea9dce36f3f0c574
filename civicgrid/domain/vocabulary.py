"""The centre's vocabulary: every state, action, role, channel and light, with its
Chinese label (and colour where the UI shows one). The one place to read or change them."""

from __future__ import annotations

from enum import StrEnum


class CaseState(StrEnum):
    """Where a case stands in the closed loop (DESIGN.md §3)."""

    REPORTED = "reported"
    VERIFIED = "verified"
    REGISTERED = "registered"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    HANDLED = "handled"
    CHECKED = "checked"
    CLOSED = "closed"
    REVISITED = "revisited"
    ARCHIVED = "archived"
    REJECTED_BY_DEPARTMENT = "rejected_by_department"
    REWORK = "rework"
    ESCALATED = "escalated"
    EXTENSION_REQUESTED = "extension_requested"
    SUSPENDED = "suspended"
    MERGED = "merged"
    VOIDED = "voided"
    JOINT = "joint"


STATE_LABELS: dict[CaseState, str] = {
    CaseState.REPORTED: "上报",
    CaseState.VERIFIED: "核实",
    CaseState.REGISTERED: "立案",
    CaseState.DISPATCHED: "派遣",
    CaseState.IN_PROGRESS: "处置中",
    CaseState.HANDLED: "处置反馈",
    CaseState.CHECKED: "核查",
    CaseState.CLOSED: "结案",
    CaseState.REVISITED: "回访",
    CaseState.ARCHIVED: "归档",
    CaseState.REJECTED_BY_DEPARTMENT: "退单",
    CaseState.REWORK: "返工",
    CaseState.ESCALATED: "上报上级",
    CaseState.EXTENSION_REQUESTED: "延期申请中",
    CaseState.SUSPENDED: "挂账",
    CaseState.MERGED: "已合并",
    CaseState.VOIDED: "作废",
    CaseState.JOINT: "联合处置",
}

#: States in which the case is finished: no clock runs, no light shows.
FINAL_STATES = frozenset(
    {CaseState.CLOSED, CaseState.REVISITED, CaseState.ARCHIVED, CaseState.MERGED, CaseState.VOIDED}
)
#: States in which the case is still open (在办): every state but the final ones.
OPEN_STATES = tuple(state for state in CaseState if state not in FINAL_STATES)


class Action(StrEnum):
    """What an actor does to a case; each one appends a CaseEvent."""

    REPORT = "report"
    VERIFY = "verify"
    REGISTER = "register"
    DISPATCH = "dispatch"
    DISPATCH_JOINT = "dispatch_joint"
    ACCEPT = "accept"
    REJECT = "reject"
    FINISH_TASK = "finish_task"
    HANDLE = "handle"
    CHECK = "check"
    FAIL_CHECK = "fail_check"
    CLOSE = "close"
    REVISIT = "revisit"
    ARCHIVE = "archive"
    ESCALATE = "escalate"
    SEND_BACK = "send_back"
    REQUEST_EXTENSION = "request_extension"
    APPROVE_EXTENSION = "approve_extension"
    DENY_EXTENSION = "deny_extension"
    SUSPEND = "suspend"
    RESUME = "resume"
    MERGE = "merge"
    VOID = "void"
    SUPERVISE = "supervise"
    COMMENT = "comment"


ACTION_LABELS: dict[Action, str] = {
    Action.REPORT: "上报",
    Action.VERIFY: "核实",
    Action.REGISTER: "立案",
    Action.DISPATCH: "派遣",
    Action.DISPATCH_JOINT: "联合派遣",
    Action.ACCEPT: "签收",
    Action.REJECT: "退单",
    Action.FINISH_TASK: "协办完成",
    Action.HANDLE: "处置反馈",
    Action.CHECK: "核查通过",
    Action.FAIL_CHECK: "核查不通过(返工)",
    Action.CLOSE: "结案",
    Action.REVISIT: "回访",
    Action.ARCHIVE: "归档",
    Action.ESCALATE: "上报上级",
    Action.SEND_BACK: "退回下级",
    Action.REQUEST_EXTENSION: "申请延期",
    Action.APPROVE_EXTENSION: "批准延期",
    Action.DENY_EXTENSION: "驳回延期",
    Action.SUSPEND: "挂账",
    Action.RESUME: "恢复办理",
    Action.MERGE: "合并",
    Action.VOID: "作废",
    Action.SUPERVISE: "督办",
    Action.COMMENT: "备注",
}


class Role(StrEnum):
    """What a user does in the centre; every permission is also scoped (region or department)."""

    OPERATOR = "operator"
    DISPATCHER = "dispatcher"
    HANDLER = "handler"
    INSPECTOR = "inspector"
    SUPERVISOR = "supervisor"
    LEADER = "leader"
    ADMIN = "admin"
    CITIZEN = "citizen"


ROLE_LABELS: dict[Role, str] = {
    Role.OPERATOR: "坐席/受理员",
    Role.DISPATCHER: "派遣员",
    Role.HANDLER: "处置人员",
    Role.INSPECTOR: "网格员/监督员",
    Role.SUPERVISOR: "督办员",
    Role.LEADER: "领导",
    Role.ADMIN: "系统管理员",
    Role.CITIZEN: "市民",
}


class Channel(StrEnum):
    """Where a case came from."""

    HOTLINE_12345 = "hotline_12345"
    HOTLINE_LOCAL = "hotline_local"
    INSPECTOR = "inspector"
    VIDEO = "video"
    WEB = "web"
    WECHAT = "wechat"
    UPPER_LEVEL = "upper_level"
    POLICE_110 = "police_110"
    MEDIA = "media"
    DEPUTY = "deputy"
    THIRD_PARTY = "third_party"


CHANNEL_LABELS: dict[Channel, str] = {
    Channel.HOTLINE_12345: "12345热线",
    Channel.HOTLINE_LOCAL: "本地热线",
    Channel.INSPECTOR: "网格员巡查",
    Channel.VIDEO: "视频监控",
    Channel.WEB: "网站",
    Channel.WECHAT: "微信",
    Channel.UPPER_LEVEL: "上级交办",
    Channel.POLICE_110: "110联动",
    Channel.MEDIA: "媒体曝光",
    Channel.DEPUTY: "人大代表/政协委员",
    Channel.THIRD_PARTY: "第三方",
}


class CaseKind(StrEnum):
    """部件 (a city object) or 事件 (something that happens)."""

    COMPONENT = "component"
    EVENT = "event"


CASE_KIND_LABELS: dict[CaseKind, str] = {CaseKind.COMPONENT: "部件", CaseKind.EVENT: "事件"}


class RequestType(StrEnum):
    """The hotline's request types, plus disputes for mediation."""

    COMPLAINT = "complaint"
    HELP = "help"
    CONSULTATION = "consultation"
    SUGGESTION = "suggestion"
    PRAISE = "praise"
    DISPUTE = "dispute"


REQUEST_TYPE_LABELS: dict[RequestType, str] = {
    RequestType.COMPLAINT: "投诉",
    RequestType.HELP: "求助",
    RequestType.CONSULTATION: "咨询",
    RequestType.SUGGESTION: "建议",
    RequestType.PRAISE: "表扬",
    RequestType.DISPUTE: "矛盾纠纷",
}


class Urgency(StrEnum):
    """How fast a case must move; each has its own stage limits."""

    NORMAL = "normal"
    URGENT = "urgent"


URGENCY_LABELS: dict[Urgency, str] = {Urgency.NORMAL: "一般", Urgency.URGENT: "紧急"}


class Stage(StrEnum):
    """A timed stretch of the loop; each has a limit per category and urgency."""

    VERIFY = "verify"
    DISPATCH = "dispatch"
    HANDLE = "handle"
    CHECK = "check"


STAGE_LABELS: dict[Stage, str] = {
    Stage.VERIFY: "核实",
    Stage.DISPATCH: "派遣",
    Stage.HANDLE: "处置",
    Stage.CHECK: "核查",
}


class Light(StrEnum):
    """The deadline light of an open stage."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


LIGHT_LABELS: dict[Light, tuple[str, str]] = {
    Light.GREEN: ("绿灯(正常)", "#2e7d32"),
    Light.YELLOW: ("黄灯(临期)", "#f9a825"),
    Light.RED: ("红灯(超期)", "#c62828"),
}
#: Open cases whose clock stands still (挂账) or that have no time limit: no light.
NO_LIGHT_LABEL = ("未计时", "#78909c")


class AlertKind(StrEnum):
    """Why a user is notified about a case (提醒): its light turned, an extension waits for
    approval, or a supervisor urged it on (督办)."""

    YELLOW = "yellow"
    RED = "red"
    EXTENSION = "extension_requested"
    SUPERVISION = "supervision"


ALERT_KIND_LABELS: dict[AlertKind, str] = {
    AlertKind.YELLOW: "黄灯预警",
    AlertKind.RED: "红灯超期",
    AlertKind.EXTENSION: "延期待批",
    AlertKind.SUPERVISION: "督办",
}


class Satisfaction(StrEnum):
    """The citizen's verdict at the call-back (回访)."""

    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    NOT_SATISFIED = "not_satisfied"


SATISFACTION_LABELS: dict[Satisfaction, str] = {
    Satisfaction.SATISFIED: "满意",
    Satisfaction.BASICALLY_SATISFIED: "基本满意",
    Satisfaction.NOT_SATISFIED: "不满意",
}


class AttachmentPurpose(StrEnum):
    """What a photo or file shows: the problem as found, or the result of the handling."""

    BEFORE = "before"
    AFTER = "after"
    OTHER = "other"


ATTACHMENT_PURPOSE_LABELS: dict[AttachmentPurpose, str] = {
    AttachmentPurpose.BEFORE: "处置前",
    AttachmentPurpose.AFTER: "处置后",
    AttachmentPurpose.OTHER: "其他",
}


class RegionLevel(StrEnum):
    """A node of the region tree."""

    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"


REGION_LEVEL_LABELS: dict[RegionLevel, str] = {
    RegionLevel.DISTRICT: "区",
    RegionLevel.STREET: "街道/镇",
    RegionLevel.COMMUNITY: "社区/村",
}


class GridKind(StrEnum):
    """综合网格 covers the territory; 专属 and overlay grids lie over it."""

    COMPREHENSIVE = "comprehensive"
    DEDICATED = "dedicated"
    OVERLAY = "overlay"


GRID_KIND_LABELS: dict[GridKind, str] = {
    GridKind.COMPREHENSIVE: "综合网格",
    GridKind.DEDICATED: "专属网格",
    GridKind.OVERLAY: "叠加网格",
}
#: The colour each kind of grid is drawn in on the map.
GRID_KIND_COLOURS: dict[GridKind, str] = {
    GridKind.COMPREHENSIVE: "#1565c0",
    GridKind.DEDICATED: "#8e24aa",
    GridKind.OVERLAY: "#00897b",
}


class GridDuty(StrEnum):
    """What a person does for a grid: 网格员 patrol it, the 网格长 answers for it. A person
    may serve several grids, and a grid may have several inspectors."""

    INSPECTOR = "inspector"
    LEADER = "leader"


GRID_DUTY_LABELS: dict[GridDuty, str] = {GridDuty.INSPECTOR: "网格员", GridDuty.LEADER: "网格长"}


class DepartmentFunction(StrEnum):
    """What a department does; a category names the function that handles it by default,
    so one category file serves every street's own departments."""

    URBAN_MANAGEMENT = "urban_management"
    POLICE = "police"
    MARKET_SUPERVISION = "market_supervision"
    HOUSING = "housing"
    MUNICIPAL = "municipal"
    LANDSCAPING = "landscaping"
    SANITATION = "sanitation"
    STREET_OFFICE = "street_office"
    EMERGENCY_MANAGEMENT = "emergency_management"
    ENVIRONMENT = "environment"
    COMPREHENSIVE_GOVERNANCE = "comprehensive_governance"


DEPARTMENT_FUNCTION_LABELS: dict[DepartmentFunction, str] = {
    DepartmentFunction.URBAN_MANAGEMENT: "城管执法",
    DepartmentFunction.POLICE: "公安",
    DepartmentFunction.MARKET_SUPERVISION: "市场监管",
    DepartmentFunction.HOUSING: "房屋管理",
    DepartmentFunction.MUNICIPAL: "市政设施",
    DepartmentFunction.LANDSCAPING: "园林绿化",
    DepartmentFunction.SANITATION: "环境卫生",
    DepartmentFunction.STREET_OFFICE: "街道办事处",
    DepartmentFunction.EMERGENCY_MANAGEMENT: "应急管理/安全生产",
    DepartmentFunction.ENVIRONMENT: "生态环境",
    DepartmentFunction.COMPREHENSIVE_GOVERNANCE: "综治/矛盾调解",
}


class DepartmentLevel(StrEnum):
    """The level a department belongs to."""

    DISTRICT = "district"
    STREET = "street"


class CoordinateSystem(StrEnum):
    """How a point arriving from outside is written; inside, every point is WGS-84."""

    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


COORDINATE_SYSTEM_LABELS: dict[CoordinateSystem, str] = {
    CoordinateSystem.WGS84: "WGS-84(GPS)",
    CoordinateSystem.GCJ02: "GCJ-02(高德/腾讯)",
    CoordinateSystem.BD09: "BD-09(百度)",
}


class SignInOutcome(StrEnum):
    """How a sign-in attempt ended, as the audit of sign-ins records it."""

    SUCCEEDED = "succeeded"
    #: Wrong username or password, or an account that may no longer sign in.
    FAILED = "failed"
    #: Refused without checking the password: too many failures for the account or address.
    LOCKED = "locked"


SIGN_IN_OUTCOME_LABELS: dict[SignInOutcome, str] = {
    SignInOutcome.SUCCEEDED: "登录成功",
    SignInOutcome.FAILED: "用户名或密码错误",
    SignInOutcome.LOCKED: "失败次数过多，暂时锁定",
}


#: The colour of each evaluation grade (评价等级, EVALUATION.md §3) where the briefings draw
#: one; a grade a centre's scheme names otherwise is drawn grey.
GRADE_COLOURS: dict[str, str] = {
    "A": "#2e7d32",
    "B": "#1565c0",
    "C": "#f9a825",
    "D": "#c62828",
    "E": "#212121",
}
