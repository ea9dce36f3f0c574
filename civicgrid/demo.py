"""The demo district: 示范区江滨街道 with its communities, "20+25" grids, departments, users
of every role, the shipped category tree and a few hundred cases in every state and light.

Everything is drawn from one ``random.Random(seed)``, so a seed always gives the same
district; cases are created and moved only through the case service, with simulated times,
so their events, clocks and cached states are the real ones.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.catalog import default_categories_path, load_categories
from civicgrid.domain import workflow
from civicgrid.domain.calendar import WorkCalendar
from civicgrid.domain.clock import STAGE_OF_STATE, light_at, opens_stage
from civicgrid.domain.errors import Conflict
from civicgrid.domain.limits import TimeLimit
from civicgrid.domain.vocabulary import (
    FINAL_STATES,
    Action,
    CaseKind,
    CaseState,
    Channel,
    DepartmentFunction,
    DepartmentLevel,
    GridDuty,
    GridKind,
    Light,
    RegionLevel,
    RequestType,
    Role,
    Satisfaction,
    Stage,
    Urgency,
)
from civicgrid.schemas import CaseCreate, TransitionRequest
from civicgrid.services.auth import hash_password
from civicgrid.services.cases import CentreRules, create_case, stage_limits, transition
from civicgrid.services.categories import import_categories
from civicgrid.store.models import Case, Category, Department, Grid, GridStaff, Region, User

DEMO_PASSWORD = "civicgrid-demo"

S = CaseState
A = Action
F = DepartmentFunction

DISTRICT_CODE, DISTRICT_NAME = "990101", "示范区"
STREET_CODE, STREET_NAME = "990101001", "江滨街道"
#: The street: about 2.5 km (east–west) by 2 km around lng 120.16, lat 30.27 (WGS-84).
WEST, EAST, SOUTH, NORTH = 120.147, 120.173, 30.261, 30.279
#: Column edges of the 3 × 2 community layout, and each column's north/south edge.
COLUMN_EDGES = (WEST, 120.1555, 120.1645, EAST)
ROW_EDGES = (30.2710, 30.2690, 30.2705)


@dataclass(frozen=True)
class CommunitySpec:
    """A community or village of the street, where it lies and what is in it."""

    suffix: str
    name: str
    column: int
    north: bool
    grids: int
    roads: tuple[str, ...]
    estates: tuple[str, ...]


# fmt: off
COMMUNITIES = (
    CommunitySpec("001", "望江社区", 0, True, 4, ("望江路", "江滨大道", "观潮巷"),
                  ("江景花园", "望江苑", "观潮公寓", "望江新村", "江南名邸")),
    CommunitySpec("002", "滨河社区", 1, True, 3, ("滨河路", "江滨大道", "清波街"),
                  ("滨河小区", "清波苑", "河畔人家", "滨江公寓")),
    CommunitySpec("003", "柳岸社区", 2, True, 3, ("柳岸路", "江滨大道", "春晓巷"),
                  ("柳岸花园", "春晓苑", "柳荫新村", "晓风小区")),
    CommunitySpec("004", "新华社区", 0, False, 4, ("新华路", "建设路", "文汇街"),
                  ("新华新村", "文汇苑", "建设小区", "新华家园")),
    CommunitySpec("005", "桃源村", 1, False, 3, ("桃源路", "建设路", "村前路"),
                  ("桃源新苑", "桃源村一组", "桃源村二组", "桃花坞")),
    CommunitySpec("006", "梅林村", 2, False, 3, ("梅林路", "建设路", "香雪街"),
                  ("梅林新村", "梅林村三组", "梅林村五组", "香雪苑")),
)
# fmt: on

#: Dedicated grids (专属网格): (community suffix, code suffix, name, share of the community box).
DEDICATED = (
    ("004", "D01", "江滨实验小学专属网格", (0.55, 0.60, 0.80, 0.85)),
    ("002", "D01", "滨河农贸市场专属网格", (0.20, 0.20, 0.40, 0.35)),
)
#: How often a case comes from a dedicated grid, against 0.6–1.6 for each of the 20
#: comprehensive ones: a busy market or school gate, about one case in twelve each.
DEDICATED_WEIGHT = 1.0


@dataclass(frozen=True)
class DepartmentSpec:
    """A department that handles cases, and the handler who signs for it."""

    code: str
    name: str
    function: DepartmentFunction
    district_level: bool
    linkage_level: int
    phone: str
    handler: str
    handler_name: str


# fmt: off
DEPARTMENTS = (
    DepartmentSpec("JB-CG", "江滨城管中队", F.URBAN_MANAGEMENT, False, 1, "0571-86901101", "handler_cg", "郑国强"),
    DepartmentSpec("JB-PCS", "江滨派出所", F.POLICE, False, 1, "0571-86901110", "handler_pcs", "吴振华"),
    DepartmentSpec("JB-SJ", "江滨市场监管所", F.MARKET_SUPERVISION, False, 2, "0571-86901315", "handler_sj", "冯雅琴"),
    DepartmentSpec("JB-FG", "江滨房管所", F.HOUSING, False, 2, "0571-86901402", "handler_fg", "蒋海涛"),
    DepartmentSpec("JB-SZ", "江滨市政所", F.MUNICIPAL, False, 1, "0571-86901503", "handler_sz", "沈立军"),
    DepartmentSpec("JB-YL", "江滨园林所", F.LANDSCAPING, False, 2, "0571-86901606", "handler_yl", "韩春梅"),
    DepartmentSpec("JB-HW", "江滨环卫所", F.SANITATION, False, 2, "0571-86901707", "handler_hw", "杨建平"),
    DepartmentSpec("JB-JDB", "江滨街道办事处", F.STREET_OFFICE, False, 3, "0571-86901000", "handler_jdb", "朱丽娟"),
    DepartmentSpec("JB-ZZ", "江滨街道综治中心", F.COMPREHENSIVE_GOVERNANCE, False, 2, "0571-86901808", "handler_zz", "秦文斌"),
    DepartmentSpec("SF-YJ", "示范区应急管理局", F.EMERGENCY_MANAGEMENT, True, 1, "0571-86900119", "handler_yj", "许卫东"),
    DepartmentSpec("SF-HB", "示范区生态环境分局", F.ENVIRONMENT, True, 2, "0571-86900369", "handler_hb", "何晓峰"),
)
# fmt: on

#: Staff other than handlers and inspectors: (username, role, district scope?, full name).
STAFF = (
    ("admin", Role.ADMIN, True, "周建国"),
    ("leader", Role.LEADER, True, "陈志远"),
    ("operator", Role.OPERATOR, False, "王丽"),
    ("operator2", Role.OPERATOR, False, "刘晓燕"),
    ("dispatcher", Role.DISPATCHER, False, "张伟"),
    ("dispatcher_qu", Role.DISPATCHER, True, "孙浩"),
    ("supervisor", Role.SUPERVISOR, False, "李明华"),
)

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方"
GIVEN = (
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英",
    "霞", "平", "刚", "桂英", "建华", "海燕", "志强", "晓东", "雪梅", "国平", "文杰", "玉兰", "晨", "思远",
)  # fmt: skip

#: What a case of each small class says: (kind of place, problems as a citizen words them).
PHRASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "C0101": ("road", ("上水井盖缺失", "上水井盖破损", "上水井盖松动有响声")),
    "C0102": ("road", ("污水井盖缺失", "污水井盖破损下陷", "污水井盖移位")),
    "C0103": ("road", ("雨水篦子缺失", "雨水井盖破损", "雨水篦子变形")),
    "C0104": ("road", ("电力井盖破损", "电力井盖缺失，线缆裸露")),
    "C0105": ("road", ("通信井盖松动", "通信井盖破损")),
    "C0106": ("road", ("燃气井盖破损", "燃气井盖缺失")),
    "C0107": ("road", ("消防栓漏水", "消防栓被车辆撞倒", "消防栓被杂物遮挡")),
    "C0108": ("road", ("路灯不亮", "多盏路灯夜间不亮", "路灯灯杆倾斜")),
    "C0201": ("cross", ("交通信号灯故障", "信号灯黄闪不变灯")),
    "C0202": ("road", ("交通标志牌倾倒", "标志牌被树枝遮挡")),
    "C0203": ("road", ("道路护栏倒伏", "隔离护栏被撞坏")),
    "C0204": ("road", ("人行天桥栏杆松动", "人行天桥台阶破损")),
    "C0205": ("road", ("路面坑洼", "人行道地砖松动破损", "路面出现坑槽")),
    "C0301": ("road", ("公共厕所无法使用", "公厕异味大无人保洁")),
    "C0302": ("road", ("垃圾箱破损", "果壳箱缺失")),
    "C0303": ("shop", ("店招牌匾松动有坠落危险", "广告牌匾破损")),
    "C0401": ("road", ("行道树枯死", "行道树断枝悬挂", "行道树歪斜")),
    "C0402": ("road", ("绿地被踩踏裸露黄土", "绿化带缺株")),
    "C0501": ("building", ("老房墙体开裂", "危旧房屋屋面有坍塌风险")),
    "C0502": ("building", ("外墙瓷砖脱落", "外立面空调支架锈蚀松动")),
    "C0601": ("estate", ("健身器材损坏", "健身路径器材松动")),
    "E0101": ("road", ("暴露垃圾无人清理", "绿化带内有暴露垃圾")),
    "E0102": ("road", ("积存建筑垃圾", "装修垃圾堆积")),
    "E0103": ("road", ("垃圾桶满溢", "垃圾分类投放点满溢")),
    "E0104": ("road", ("路面油污", "道路不洁有泥浆")),
    "E0105": ("road", ("乱堆物堆料", "人行道堆放建材")),
    "E0106": ("road", ("下雨后路面积水严重", "道路积水")),
    "E0107": ("shop", ("油烟扰民", "油烟直排")),
    "E0108": ("road", ("露天焚烧垃圾", "焚烧树叶烟雾大")),
    "E0201": ("road", ("违规设置户外广告", "私设大型广告牌")),
    "E0202": ("building", ("楼道墙面小广告", "单元门张贴小广告")),
    "E0203": ("road", ("违规悬挂横幅", "商家私挂促销横幅")),
    "E0301": ("site", ("夜间施工噪声扰民", "夜间施工机械噪声大")),
    "E0302": ("road", ("渣土车撒漏", "渣土运输撒漏污染路面")),
    "E0303": ("site", ("扬尘严重", "未覆盖裸土扬尘大")),
    "E0304": ("road", ("施工占用人行道", "施工围挡占道")),
    "E0305": ("site", ("施工围挡破损", "围挡倒伏")),
    "E0401": ("road", ("路面塌陷", "人行道塌陷出现空洞")),
    "E0402": ("road", ("供水管道爆裂冒水", "自来水管破裂")),
    "E0403": ("building", ("疑似燃气泄漏有异味", "燃气管道泄漏")),
    "E0404": ("road", ("大树倒伏阻碍通行", "树木倒伏压住车辆")),
    "E0501": ("road", ("占道经营", "水果摊占道经营")),
    "E0502": ("road", ("流动摊贩聚集", "夜间流动摊贩扰民")),
    "E0503": ("shop", ("店外经营", "门前摆桌经营")),
    "E0504": ("road", ("共享单车乱停放", "电动车乱停堵塞盲道")),
    "E0505": ("road", ("机动车违停", "车辆占用消防通道")),
    "E0506": ("shop", ("音响噪声扰民", "高音喇叭促销扰民")),
    "E0601": ("shop", ("无照经营", "无证小作坊")),
    "E0602": ("shop", ("售卖过期食品", "卫生条件差")),
    "E0603": ("shop", ("销售假冒商品", "疑似销售伪劣电动车电池")),
    "E0701": ("building", ("楼顶违章搭建", "私自搭建阳光房", "违建彩钢棚")),
    "E0702": ("building", ("装修拆改承重墙", "违规装修破坏结构")),
    "E0703": ("building", ("楼道堆物", "楼道杂物堵塞消防通道")),
    "E0801": ("building", ("楼上噪声扰民", "广场舞音响扰民")),
    "E0802": ("estate", ("毁绿种菜", "绿地被占用停车")),
    "E0803": ("building", ("犬只未拴绳", "养犬扰民")),
    "E0804": ("building", ("高空抛物", "楼上扔垃圾")),
    "E0901": ("building", ("疑似群租房", "群租房隔断出租")),
    "E0902": ("building", ("邻里漏水纠纷", "邻里噪声纠纷")),
    "E0903": ("estate", ("物业费纠纷", "物业停车管理纠纷")),
    "E0904": ("site", ("工人讨薪", "拖欠农民工工资")),
    "E0905": ("building", ("家庭纠纷需调解",)),
    "E0906": ("building", ("消防通道被占用", "消防设施损坏")),
    "E0907": ("shop", ("液化气瓶违规存放", "小作坊存在安全隐患")),
    "E0908": ("building", ("电动车飞线充电", "楼道内电动车充电")),
    "E0909": ("shop", ("燃气软管老化", "瓶装液化气违规使用")),
}

#: How often each small class comes in, relative to 1 for those not listed.
CATEGORY_WEIGHTS = {
    "E0501": 6, "E0505": 6, "E0504": 5, "E0101": 5, "E0801": 5, "E0103": 4, "E0105": 4, "E0703": 4,
    "E0503": 4, "C0108": 4, "C0205": 4, "E0901": 3, "E0902": 3, "E0903": 3, "C0102": 3, "C0103": 3,
    "E0301": 3, "E0107": 3, "E0908": 3, "E0202": 3, "E0701": 3, "E0906": 2, "E0502": 2, "E0804": 2,
}  # fmt: skip

#: Channels weighted like a real centre: the 12345 hotline and patrols bring most cases.
CHANNEL_WEIGHTS = {
    Channel.HOTLINE_12345: 36,
    Channel.INSPECTOR: 30,
    Channel.VIDEO: 6,
    Channel.WECHAT: 6,
    Channel.HOTLINE_LOCAL: 5,
    Channel.POLICE_110: 4,
    Channel.UPPER_LEVEL: 4,
    Channel.WEB: 3,
    Channel.THIRD_PARTY: 3,
    Channel.DEPUTY: 2,
    Channel.MEDIA: 1,
}
#: Channels with no citizen to call back (回访).
NO_CALLBACK = frozenset({Channel.INSPECTOR, Channel.VIDEO, Channel.THIRD_PARTY})
HOTLINES = frozenset({Channel.HOTLINE_12345, Channel.HOTLINE_LOCAL})
DISPUTES = frozenset({"E0902", "E0903", "E0904", "E0905"})

INTRO = {
    Channel.HOTLINE_12345: "市民通过12345热线反映",
    Channel.HOTLINE_LOCAL: "市民致电96123本地热线反映",
    Channel.INSPECTOR: "网格员巡查发现",
    Channel.VIDEO: "视频监控巡查发现",
    Channel.WEB: "市民通过网站反映",
    Channel.WECHAT: "市民通过微信公众号反映",
    Channel.UPPER_LEVEL: "区指挥中心交办",
    Channel.POLICE_110: "110联动转办",
    Channel.MEDIA: "媒体报道",
    Channel.DEPUTY: "区人大代表反映",
    Channel.THIRD_PARTY: "第三方巡查单位上报",
}
IMPACT = {
    CaseKind.COMPONENT: ("存在安全隐患，请尽快修复。", "影响行人和车辆通行，请尽快处理。"),
    CaseKind.EVENT: (
        "影响周边居民正常生活，请尽快处理。",
        "已持续多日，希望尽快处理。",
        "周边群众意见较大，请尽快处置。",
    ),
}
SHOPS = ("便利店", "小吃店", "水果店", "五金店", "理发店", "面馆", "烧烤店", "超市", "快餐店", "菜鸟驿站")
PROJECTS = ("安置房项目", "地铁站出入口", "道路改造", "老旧小区改造", "管网改造")

#: Final states of the demo cases, per 300: most finished, a fair share open, a handful on
#: each side path.
STATE_WEIGHTS = {
    S.ARCHIVED: 90, S.REVISITED: 45, S.CLOSED: 33, S.CHECKED: 6,
    S.REPORTED: 6, S.VERIFIED: 5, S.REGISTERED: 10, S.DISPATCHED: 13, S.IN_PROGRESS: 30, S.HANDLED: 12,
    S.REJECTED_BY_DEPARTMENT: 5, S.REWORK: 6, S.ESCALATED: 4, S.EXTENSION_REQUESTED: 5,
    S.SUSPENDED: 5, S.MERGED: 8, S.VOIDED: 6, S.JOINT: 11,
}  # fmt: skip
#: Lights wanted among open cases whose clock the demo places.
LIGHT_WEIGHTS = {Light.GREEN: 45, Light.YELLOW: 20, Light.RED: 35}

#: A department a dispatcher plausibly sends a case to by mistake (退单 follows).
CONFUSED_WITH = {
    F.MUNICIPAL: F.URBAN_MANAGEMENT,
    F.URBAN_MANAGEMENT: F.MUNICIPAL,
    F.SANITATION: F.URBAN_MANAGEMENT,
    F.LANDSCAPING: F.MUNICIPAL,
    F.HOUSING: F.STREET_OFFICE,
    F.POLICE: F.URBAN_MANAGEMENT,
    F.MARKET_SUPERVISION: F.URBAN_MANAGEMENT,
    F.ENVIRONMENT: F.URBAN_MANAGEMENT,
    F.EMERGENCY_MANAGEMENT: F.STREET_OFFICE,
    F.COMPREHENSIVE_GOVERNANCE: F.STREET_OFFICE,
    F.STREET_OFFICE: F.HOUSING,
}
#: Who assists the lead department in joint handling (联合处置).
PARTNERS = {
    F.URBAN_MANAGEMENT: (F.POLICE, F.MARKET_SUPERVISION),
    F.HOUSING: (F.POLICE, F.EMERGENCY_MANAGEMENT),
    F.COMPREHENSIVE_GOVERNANCE: (F.POLICE, F.STREET_OFFICE),
    F.MARKET_SUPERVISION: (F.URBAN_MANAGEMENT, F.POLICE),
    F.EMERGENCY_MANAGEMENT: (F.STREET_OFFICE, F.POLICE),
    F.ENVIRONMENT: (F.URBAN_MANAGEMENT, F.MARKET_SUPERVISION),
    F.MUNICIPAL: (F.POLICE, F.LANDSCAPING),
    F.STREET_OFFICE: (F.HOUSING,),
}
JOINT_CATEGORIES = ("E0501", "E0502", "E0601", "E0602", "E0701", "E0901", "E0904", "E0906", "E0907", "E0908")
HARD_CATEGORIES = ("E0701", "E0901", "E0904", "C0501", "E0601", "E0903")
ESCALATED_CATEGORIES = ("E0107", "E0303", "E0906", "E0907", "C0107", "E0904", "E0701")

#: Final states reached after the department reports the work done, and after it signs for it.
AFTER_HANDLE = frozenset({S.HANDLED, S.REWORK, S.CHECKED, S.CLOSED, S.REVISITED, S.ARCHIVED})
AFTER_ACCEPT = AFTER_HANDLE | {S.IN_PROGRESS, S.EXTENSION_REQUESTED, S.SUSPENDED}

MINUTE, HOUR, DAY = 60, 3600, 86400


# --- the territory and the people ---------------------------------------------------------------


def _rect(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [[[round(x, 6), round(y, 6)] for x, y in ring]]}


Box = tuple[float, float, float, float]


def _community_box(spec: CommunitySpec) -> Box:
    west, east = COLUMN_EDGES[spec.column], COLUMN_EDGES[spec.column + 1]
    middle = ROW_EDGES[spec.column]
    return (west, middle, east, NORTH) if spec.north else (west, SOUTH, east, middle)


def _split(box: Box, count: int, rng: random.Random) -> list[Box]:
    """Cut a community into ``count`` (3 or 4) rectangles that tile it, slightly irregular."""
    west, south, east, north = box
    x = round(west + (east - west) * rng.uniform(0.42, 0.58), 6)
    left_y = round(south + (north - south) * rng.uniform(0.4, 0.6), 6)
    right_y = round(south + (north - south) * rng.uniform(0.4, 0.6), 6)
    if count == 3:
        return [(west, south, x, north), (x, right_y, east, north), (x, south, east, right_y)]
    return [
        (west, left_y, x, north),
        (x, right_y, east, north),
        (west, south, x, left_y),
        (x, south, east, right_y),
    ]


def _sub_box(box: Box, share: tuple[float, float, float, float]) -> Box:
    west, south, east, north = box
    width, height = east - west, north - south
    return (
        round(west + width * share[0], 6),
        round(south + height * share[1], 6),
        round(west + width * share[2], 6),
        round(south + height * share[3], 6),
    )


def _inside(box: Box, lng: float, lat: float) -> bool:
    west, south, east, north = box
    return west <= lng <= east and south <= lat <= north


def _estate_boxes(box: Box, count: int) -> list[Box]:
    """Residential compounds laid over a community: cells of a lattice, shrunk to leave streets."""
    columns = 3 if count > 4 else 2
    cells = [(row, column) for row in range(2) for column in range(columns)][:count]
    return [
        _sub_box(
            box,
            (
                (column + 0.15) / columns,
                (row + 0.15) / 2,
                (column + 0.85) / columns,
                (row + 0.85) / 2,
            ),
        )
        for row, column in cells
    ]


@dataclass
class _GridSpot:
    """A comprehensive grid with what the cases need of it."""

    grid: Grid
    box: Box
    community: CommunitySpec
    inspector: str
    weight: float


@dataclass
class _World:
    district: Region
    street: Region
    communities: list[Region] = field(default_factory=list)
    spots: list[_GridSpot] = field(default_factory=list)
    grids: list[Grid] = field(default_factory=list)
    departments: dict[DepartmentFunction, Department] = field(default_factory=dict)
    handlers: dict[str, str] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    categories: dict[str, Category] = field(default_factory=dict)


def _region(
    session: Session, code: str, name: str, level: RegionLevel, parent: Region | None, box: Box
) -> Region:
    row = Region(
        code=code,
        name=name,
        level=level,
        parent=parent,
        path=f"{parent.path if parent else '/'}{code}/",
        boundary=_rect(*box),
    )
    session.add(row)
    return row


def _build_territory(session: Session, rng: random.Random) -> _World:
    district = _region(
        session, DISTRICT_CODE, DISTRICT_NAME, RegionLevel.DISTRICT, None, (120.12, 30.24, 120.20, 30.30)
    )
    street = _region(
        session, STREET_CODE, STREET_NAME, RegionLevel.STREET, district, (WEST, SOUTH, EAST, NORTH)
    )
    world = _World(district=district, street=street)
    dedicated: list[_GridSpot] = []
    number = 0
    for spec in COMMUNITIES:
        box = _community_box(spec)
        community = _region(session, STREET_CODE + spec.suffix, spec.name, RegionLevel.COMMUNITY, street, box)
        world.communities.append(community)
        for index, part in enumerate(_split(box, spec.grids, rng), start=1):
            number += 1
            grid = Grid(
                code=f"{community.code}-{index:02d}",
                name=f"{spec.name}第{index}网格",
                kind=GridKind.COMPREHENSIVE,
                region=community,
                boundary=_rect(*part),
            )
            world.grids.append(grid)
            world.spots.append(_GridSpot(grid, part, spec, f"inspector{number:02d}", rng.uniform(0.6, 1.6)))
        for index, (estate, part) in enumerate(
            zip(spec.estates, _estate_boxes(box, len(spec.estates)), strict=True), start=1
        ):
            world.grids.append(
                Grid(
                    code=f"{community.code}-Z{index:02d}",
                    name=f"{estate}居民自治网格",
                    kind=GridKind.OVERLAY,
                    region=community,
                    boundary=_rect(*part),
                )
            )
        for suffix, code, name, share in DEDICATED:
            if suffix == spec.suffix:
                part = _sub_box(box, share)
                grid = Grid(
                    code=f"{community.code}-{code}",
                    name=name,
                    kind=GridKind.DEDICATED,
                    region=community,
                    boundary=_rect(*part),
                )
                world.grids.append(grid)
                dedicated.append(_GridSpot(grid, part, spec, "", DEDICATED_WEIGHT))
    # Dedicated grids have their own inspectors, numbered after the comprehensive grids'.
    for spot in dedicated:
        number += 1
        world.spots.append(replace(spot, inspector=f"inspector{number:02d}"))
    session.add_all(world.grids)
    return world


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def _mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"


def _build_people(session: Session, world: _World, rng: random.Random) -> None:
    for spec in DEPARTMENTS:
        department = Department(
            code=spec.code,
            name=spec.name,
            function=spec.function,
            level=DepartmentLevel.DISTRICT if spec.district_level else DepartmentLevel.STREET,
            region=world.district if spec.district_level else world.street,
            linkage_level=spec.linkage_level,
            phone=spec.phone,
            is_active=True,
        )
        session.add(department)
        world.departments[spec.function] = department
        world.handlers[spec.code] = spec.handler
    # argon2 is slow on purpose: one hash serves every demo user.
    password_hash = hash_password(DEMO_PASSWORD)

    def add(username: str, full_name: str, role: Role, **scope: Any) -> None:
        user = User(
            username=username,
            full_name=full_name,
            password_hash=password_hash,
            role=role,
            phone=_mobile(rng),
            is_active=True,
            **scope,
        )
        session.add(user)
        world.users[username] = user

    for username, role, district_wide, full_name in STAFF:
        add(username, full_name, role, region=world.district if district_wide else world.street)
    for spec in DEPARTMENTS:
        department = world.departments[spec.function]
        add(spec.handler, spec.handler_name, Role.HANDLER, department=department, region=department.region)
    session.flush()
    for spot in world.spots:
        add(spot.inspector, _person(rng), Role.INSPECTOR, region=spot.grid.region, grid_id=spot.grid.id)
        spot.grid.staff.append(GridStaff(user=world.users[spot.inspector], duty=GridDuty.INSPECTOR))
    add("citizen", "赵小米", Role.CITIZEN)


# --- planning the cases ---------------------------------------------------------------------------


Delay = tuple[str, float]


def _frac(rng: random.Random, low: float, high: float, late: float = 0.0) -> Delay:
    """A delay as a share of the running stage's limit; ``late`` of them overrun it."""
    if late and rng.random() < late:
        return ("f", rng.uniform(1.05, 1.8))
    return ("f", rng.uniform(low, high))


def _natural(rng: random.Random, low: float, high: float) -> Delay:
    return ("n", rng.uniform(low, high))


@dataclass
class _Step:
    actor: str
    action: Action
    delay: Delay
    note: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    #: The state the case is in after this step.
    state: CaseState = S.REPORTED


@dataclass
class _Plan:
    index: int
    final: CaseState
    category: Category
    urgency: Urgency
    channel: Channel
    spot: _GridSpot
    lng: float
    lat: float
    title: str
    address: str
    description: str
    reporter: str
    request_type: RequestType | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    external_id: str | None = None
    steps: list[_Step] = field(default_factory=list)
    light: Light | None = None
    times: list[datetime] = field(default_factory=list)
    keep: _Plan | None = None
    number: str = ""

    @property
    def function(self) -> DepartmentFunction:
        return self.category.department_function or F.STREET_OFFICE


class _Planner:
    """Draws the cases: what, where, from whom, and the path each takes to its final state."""

    def __init__(self, world: _World, rng: random.Random) -> None:
        self.world = world
        self.rng = rng
        self.small = sorted(
            (c for c in world.categories.values() if c.parent_id is not None), key=lambda c: c.code
        )
        self.roles = {name: user.role for name, user in world.users.items()}

    # - what and where -

    def _weighted(self, options: Sequence[Any], weights: Sequence[float]) -> Any:
        return self.rng.choices(list(options), weights=list(weights))[0]

    def _category(self, final: CaseState) -> Category:
        codes = {
            S.SUSPENDED: HARD_CATEGORIES,
            S.JOINT: JOINT_CATEGORIES,
            S.ESCALATED: ESCALATED_CATEGORIES,
        }.get(final)
        if final is S.EXTENSION_REQUESTED:
            codes = tuple(c.code for c in self.small if c.limits["normal"]["handle"].endswith("wd"))
        pool = [c for c in self.small if codes is None or c.code in codes]
        return self._weighted(pool, [CATEGORY_WEIGHTS.get(c.code, 1) for c in pool])

    def _channel(self, final: CaseState) -> Channel:
        options = [c for c in CHANNEL_WEIGHTS if not (final is S.REVISITED and c in NO_CALLBACK)]
        if final in (S.MERGED, S.VOIDED):
            options = [c for c in options if c not in (Channel.INSPECTOR, Channel.VIDEO)]
        return self._weighted(options, [CHANNEL_WEIGHTS[c] for c in options])

    def _point(self, spot: _GridSpot) -> tuple[float, float]:
        """A point in the spot's grid; in a comprehensive grid, outside every dedicated grid,
        so that the case's grid is the spot's and its inspector the spot's inspector."""
        west, south, east, north = spot.box
        while True:
            # A margin keeps points off the shared edges of neighbouring grids.
            lng = round(west + (east - west) * self.rng.uniform(0.06, 0.94), 6)
            lat = round(south + (north - south) * self.rng.uniform(0.06, 0.94), 6)
            if spot.grid.kind is GridKind.DEDICATED or not any(
                _inside(other.box, lng, lat)
                for other in self.world.spots
                if other.grid.kind is GridKind.DEDICATED
            ):
                return lng, lat

    def _place(self, kind: str, spec: CommunitySpec) -> tuple[str, str]:
        """The place as a title names it, and the full address."""
        rng = self.rng
        road = rng.choice(spec.roads)
        number = rng.randint(1, 288)
        prefix = f"{STREET_NAME}{spec.name}"
        if kind == "cross":
            other = rng.choice([r for r in (*spec.roads, "建设路", "复兴路") if r != road])
            return f"{road}与{other}交叉口", f"{prefix}{road}与{other}交叉口"
        if kind == "road":
            place = f"{road}{number}号{rng.choice(('门前', '附近', '对面', '旁'))}"
            return place, f"{prefix}{road}{number}号"
        if kind == "shop":
            shop = rng.choice(SHOPS)
            return f"{road}{number}号{shop}", f"{prefix}{road}{number}号{shop}"
        if kind == "site":
            place = f"{road}{rng.choice(PROJECTS)}工地"
            return place, f"{prefix}{place}"
        estate = rng.choice(spec.estates)
        if kind == "estate":
            return estate, f"{prefix}{estate}"
        if estate.endswith("组"):
            place = f"{estate}{rng.randint(1, 60)}号"
            return place, f"{prefix}{place}"
        building = f"{estate}{rng.randint(1, 32)}幢"
        return building, f"{prefix}{building}{rng.randint(1, 4)}单元"

    def plan(self, index: int, final: CaseState) -> _Plan:
        rng = self.rng
        category = self._category(final)
        channel = self._channel(final)
        spot = self._weighted(self.world.spots, [s.weight for s in self.world.spots])
        lng, lat = self._point(spot)
        kind, phrases = PHRASES.get(category.code, ("road", (category.name + "问题",)))
        place, address = self._place(kind, spot.community)
        phrase = rng.choice(phrases)
        title = f"{place}{phrase}"
        description = f"{INTRO[channel]}：{address}{phrase}，{rng.choice(IMPACT[category.kind])}"
        urgent = rng.random() < 0.1 and final is not S.SUSPENDED
        plan = _Plan(
            index=index,
            final=final,
            category=category,
            urgency=Urgency.URGENT if urgent else Urgency.NORMAL,
            channel=channel,
            spot=spot,
            lng=lng,
            lat=lat,
            title=title,
            address=address,
            description=description,
            reporter="operator" if rng.random() < 0.7 else "operator2",
        )
        if channel is Channel.INSPECTOR:
            plan.reporter = spot.inspector
            plan.reporter_name = self.world.users[spot.inspector].full_name
        elif channel in (Channel.WEB, Channel.WECHAT) and rng.random() < 0.5:
            plan.reporter = "citizen"
            plan.reporter_name = self.world.users["citizen"].full_name
        elif channel not in (Channel.VIDEO, Channel.THIRD_PARTY, Channel.UPPER_LEVEL):
            plan.reporter_name = f"{rng.choice(SURNAMES)}{rng.choice(('先生', '女士'))}"
            plan.reporter_phone = f"1{rng.choice('3578')}{rng.randrange(10):d}****{rng.randrange(10**4):04d}"
        if channel in HOTLINES:
            if category.code in DISPUTES:
                plan.request_type = RequestType.DISPUTE
            else:
                plan.request_type = self._weighted(
                    (
                        RequestType.COMPLAINT,
                        RequestType.HELP,
                        RequestType.CONSULTATION,
                        RequestType.SUGGESTION,
                    ),
                    (65, 20, 7, 8),
                )
        if channel in (Channel.HOTLINE_12345, Channel.UPPER_LEVEL):
            plan.external_id = f"{'GD' if channel is Channel.HOTLINE_12345 else 'JB'}{900000 + index:07d}"
        self._path(plan)
        return plan

    def twin(self, index: int, keep: _Plan) -> _Plan:
        """A duplicate report of ``keep``'s problem, merged into it."""
        west, south, east, north = keep.spot.box
        lng = min(max(keep.lng + self.rng.uniform(-3e-4, 3e-4), west + 1e-4), east - 1e-4)
        lat = min(max(keep.lat + self.rng.uniform(-3e-4, 3e-4), south + 1e-4), north - 1e-4)
        plan = _Plan(
            index=index,
            final=S.MERGED,
            category=keep.category,
            urgency=keep.urgency,
            channel=Channel.HOTLINE_12345,
            spot=keep.spot,
            lng=round(lng, 6),
            lat=round(lat, 6),
            title=keep.title,
            address=keep.address,
            description=f"{INTRO[Channel.HOTLINE_12345]}：{keep.title}，此前已有市民反映同一问题。",
            reporter="operator2",
            request_type=RequestType.COMPLAINT,
            reporter_name=f"{self.rng.choice(SURNAMES)}{self.rng.choice(('先生', '女士'))}",
            reporter_phone=f"13{self.rng.randrange(10)}****{self.rng.randrange(10**4):04d}",
            external_id=f"GD{900000 + index:07d}",
            keep=keep,
        )
        plan.steps.append(_Step(plan.reporter, A.REPORT, ("n", 0)))
        self.add(
            plan,
            "operator2",
            A.MERGE,
            _natural(self.rng, 5 * MINUTE, 90 * MINUTE),
            "与已受理工单反映同一问题，合并办理",
        )
        return plan

    # - the path -

    def add(
        self, plan: _Plan, actor: str, action: Action, delay: Delay, note: str = "", **fields: Any
    ) -> None:
        state = plan.steps[-1].state
        previous = None
        if action is A.RESUME:
            suspended = max(i for i, step in enumerate(plan.steps) if step.action is A.SUSPEND)
            previous = plan.steps[suspended - 1].state
        target = workflow.apply(state, action, self.roles[actor], reason=note, previous=previous)
        plan.steps.append(_Step(actor, action, delay, note, fields, target))

    def _department(self, function: DepartmentFunction) -> Department:
        return self.world.departments[function]

    def _handler(self, function: DepartmentFunction) -> str:
        return self.world.handlers[self._department(function).code]

    def _path(self, plan: _Plan) -> None:
        rng, final, add = self.rng, plan.final, self.add
        inspector = plan.spot.inspector
        plan.steps.append(_Step(plan.reporter, A.REPORT, ("n", 0)))
        if final is S.REPORTED:
            return
        if final is S.VOIDED:
            reason = rng.choice(
                (
                    "现场核实无此问题，来电反映情况不实",
                    "不属于本中心受理范围，已告知来电人向相关单位反映",
                    "来电人撤回诉求",
                )
            )
            add(plan, "operator", A.VOID, _frac(rng, 0.1, 0.6), reason)
            return
        verify = plan.channel in (Channel.INSPECTOR, Channel.WEB, Channel.WECHAT) or rng.random() < 0.25
        if verify or final is S.VERIFIED:
            add(plan, inspector, A.VERIFY, _frac(rng, 0.15, 0.8, late=0.08), "现场核实，情况属实")
        if final is S.VERIFIED:
            return
        add(
            plan,
            rng.choice(("operator", "dispatcher")),
            A.REGISTER,
            _frac(rng, 0.05, 0.4),
            "符合立案条件，予以立案",
        )
        if final is S.REGISTERED:
            return
        if final is S.SUSPENDED and rng.random() < 0.3:
            add(
                plan,
                "supervisor",
                A.SUSPEND,
                _frac(rng, 0.2, 0.6),
                "历史遗留问题，需区级多部门协调，列入挂账督办",
            )
            return
        if final is S.ESCALATED:
            add(
                plan,
                "dispatcher",
                A.ESCALATE,
                _frac(rng, 0.2, 0.7),
                "涉及区级部门职责，超出街道处置权限，提请区中心协调",
            )
            return
        function = plan.function
        dispatcher = "dispatcher"
        detour = rng.random()
        if final is S.REJECTED_BY_DEPARTMENT or (final in AFTER_ACCEPT | {S.DISPATCHED} and detour < 0.07):
            wrong = self._department(CONFUSED_WITH[function])
            add(
                plan,
                "dispatcher",
                A.DISPATCH,
                _frac(rng, 0.1, 0.8),
                f"请{wrong.name}处置",
                department_code=wrong.code,
            )
            right = self._department(function)
            add(
                plan,
                self._handler(wrong.function),
                A.REJECT,
                _frac(rng, 0.03, 0.3),
                f"经核实不属于本单位职责，建议派{right.name}",
            )
            if final is S.REJECTED_BY_DEPARTMENT:
                return
        elif final in AFTER_ACCEPT and plan.category.code in ESCALATED_CATEGORIES and detour < 0.35:
            add(plan, "dispatcher", A.ESCALATE, _frac(rng, 0.2, 0.7), "涉及区级部门职责，提请区中心协调")
            if rng.random() < 0.4:
                add(plan, "dispatcher_qu", A.SEND_BACK, _frac(rng, 0.2, 0.8), "属街道属地事项，退回街道派遣")
            else:
                dispatcher = "dispatcher_qu"
        joint = final is S.JOINT or (
            final in AFTER_HANDLE and plan.category.code in JOINT_CATEGORIES and rng.random() < 0.3
        )
        lead = self._department(function)
        if joint:
            partners = [
                self._department(f) for f in PARTNERS.get(function, (F.STREET_OFFICE,)) if f is not function
            ]
            add(
                plan,
                dispatcher,
                A.DISPATCH_JOINT,
                _frac(rng, 0.1, 0.8),
                f"由{lead.name}牵头，{'、'.join(p.name for p in partners)}协同处置",
                department_code=lead.code,
                assisting_department_codes=[p.code for p in partners],
            )
            done = len(partners) if final is not S.JOINT else rng.randint(0, len(partners))
            for partner in rng.sample(partners, done):
                add(
                    plan,
                    self._handler(partner.function),
                    A.FINISH_TASK,
                    _frac(rng, 0.1, 0.4),
                    "协办部分已完成",
                )
            if final is S.JOINT:
                return
        else:
            add(
                plan,
                dispatcher,
                A.DISPATCH,
                _frac(rng, 0.1, 0.8, late=0.06),
                f"请{lead.name}按期处置",
                department_code=lead.code,
            )
            if final is S.DISPATCHED:
                return
            handler = self._handler(function)
            add(plan, handler, A.ACCEPT, _frac(rng, 0.02, 0.15), "已签收")
            long_limit = plan.category.limits["normal"]["handle"].endswith("wd")
            extend = (final is S.IN_PROGRESS and rng.random() < 0.3) or (
                final in AFTER_HANDLE and rng.random() < 0.05
            )
            if final is S.EXTENSION_REQUESTED or (long_limit and extend):
                add(
                    plan,
                    handler,
                    A.REQUEST_EXTENSION,
                    _frac(rng, 0.4, 0.9),
                    "需协调产权单位并采购材料，申请延期",
                    extend_workdays=rng.choice((2, 3, 5)),
                )
                if final is S.EXTENSION_REQUESTED:
                    return
                verdict = A.APPROVE_EXTENSION if rng.random() < 0.85 else A.DENY_EXTENSION
                add(
                    plan,
                    "leader",
                    verdict,
                    _frac(rng, 0.02, 0.1),
                    "" if verdict is A.APPROVE_EXTENSION else "理由不充分，请按期办结",
                )
            if final is S.IN_PROGRESS:
                return
            if final is S.SUSPENDED or (final in AFTER_HANDLE and rng.random() < 0.03):
                add(plan, "supervisor", A.SUSPEND, _frac(rng, 0.2, 0.6), "涉及产权争议，列入挂账督办")
                if final is S.SUSPENDED:
                    return
                add(plan, "leader", A.RESUME, _natural(rng, 2 * DAY, 8 * DAY), "协调会已明确责任，恢复办理")
        self._finish(plan, function)

    def _finish(self, plan: _Plan, function: DepartmentFunction) -> None:
        rng, final, add = self.rng, plan.final, self.add
        inspector = plan.spot.inspector
        handler = self._handler(function)
        closing = f"已处置：{plan.category.closure_standard}"
        add(plan, handler, A.HANDLE, _frac(rng, 0.15, 0.7, late=0.1), closing)
        if final is S.HANDLED:
            return
        if final is S.REWORK or rng.random() < 0.07:
            add(
                plan,
                inspector,
                A.FAIL_CHECK,
                _frac(rng, 0.2, 0.9),
                "现场核查问题仍存在，未达到结案标准，需返工",
            )
            if final is S.REWORK:
                return
            add(plan, handler, A.ACCEPT, _frac(rng, 0.02, 0.15), "返工已签收")
            add(plan, handler, A.HANDLE, _frac(rng, 0.15, 0.6), f"返工完成：{plan.category.closure_standard}")
        add(plan, inspector, A.CHECK, _frac(rng, 0.15, 0.9, late=0.08), "现场核查，已整改到位")
        if final is S.CHECKED:
            return
        add(
            plan,
            rng.choice(("operator", "dispatcher")),
            A.CLOSE,
            _natural(rng, 10 * MINUTE, 6 * HOUR),
            "核查通过，予以结案",
        )
        if final is S.CLOSED:
            return
        if plan.channel not in NO_CALLBACK and (final is S.REVISITED or rng.random() < 0.85):
            satisfaction = self._weighted(list(Satisfaction), (80, 13, 7))
            note = {
                "satisfied": "回访来电人，对处置结果满意",
                "basically_satisfied": "回访来电人，基本满意",
            }.get(satisfaction.value, "回访来电人，对处置结果不满意，已记录意见")
            add(
                plan,
                "operator2",
                A.REVISIT,
                _natural(rng, 2 * HOUR, 3 * DAY),
                note,
                satisfaction=satisfaction,
            )
            if final is S.REVISITED:
                return
        add(plan, "operator", A.ARCHIVE, _natural(rng, 1 * DAY, 5 * DAY), "材料齐全，归档")


def _quotas(total: int, weights: dict[Any, int], minimum: int) -> dict[Any, int]:
    """``total`` split by ``weights`` (largest remainder), each key at least ``minimum``
    when the total allows it."""
    floor = minimum if total >= minimum * len(weights) else 0
    rest = total - floor * len(weights)
    whole = sum(weights.values())
    shares = {key: rest * weight / whole for key, weight in weights.items()}
    counts = {key: floor + int(share) for key, share in shares.items()}
    left = total - sum(counts.values())
    for key in sorted(shares, key=lambda k: shares[k] - int(shares[k]), reverse=True)[:left]:
        counts[key] += 1
    return counts


# --- placing the plans in time ----------------------------------------------------------------


class _Timer:
    """Turns a plan's delays into instants on the centre's calendar, never after ``now``."""

    def __init__(self, rules: CentreRules, now: datetime) -> None:
        self.calendar: WorkCalendar = rules.calendar
        self.ratio = rules.warning_ratio
        self.now = now.astimezone(rules.calendar.timezone)

    def after(
        self, moment: datetime, state: CaseState, delay: Delay, limits: dict[Stage, TimeLimit]
    ) -> datetime:
        kind, amount = delay
        stage = STAGE_OF_STATE.get(state)
        limit = limits.get(stage) if stage is not None else None
        if kind == "n" or limit is None:
            seconds = amount if kind == "n" else amount * 4 * HOUR
            later = moment + timedelta(seconds=seconds)
        else:
            later = limit.advance(self.calendar, moment, amount * limit.total_seconds(self.calendar))
        return later.replace(microsecond=0)

    def forward(
        self, plan: _Plan, start: datetime, count: int, limits: dict[Stage, TimeLimit]
    ) -> list[datetime]:
        times = [start.replace(microsecond=0)]
        for step, before in zip(plan.steps[1:count], plan.steps[: count - 1], strict=True):
            times.append(self.after(times[-1], before.state, step.delay, limits))
        return times

    def fit(
        self, plan: _Plan, start: datetime, count: int, limit_at: datetime, limits: dict[Stage, TimeLimit]
    ) -> list[datetime]:
        """Times of the first ``count`` steps from ``start``, moved earlier until the last is
        no later than ``limit_at``."""
        for attempt in range(60):
            times = self.forward(plan, start, count, limits)
            overshoot = (times[-1] - limit_at).total_seconds()
            if overshoot <= 0:
                return times
            start -= timedelta(seconds=max(overshoot, HOUR * (attempt + 1)))
        raise RuntimeError(f"demo case {plan.index}: could not fit its history before {limit_at}")

    def back(self, limit: TimeLimit, amount: float) -> datetime:
        """The latest start from which ``amount`` seconds of ``limit``'s time have run by now."""
        if not limit.working:
            return (self.now - timedelta(seconds=amount)).replace(microsecond=0)
        low = self.now - timedelta(seconds=amount)
        while limit.measure(self.calendar, low, self.now) < amount:
            low -= (self.now - low) + timedelta(days=1)
        high = self.now
        for _ in range(48):
            middle = low + (high - low) / 2
            if limit.measure(self.calendar, middle, self.now) >= amount:
                low = middle
            else:
                high = middle
        return low.replace(microsecond=0)


def _anchor(plan: _Plan) -> int:
    """The index of the step that started the running stage's clock (as the clock reads it)."""
    stage, anchor = None, 0
    for index, step in enumerate(plan.steps):
        if opens_stage(step.action, step.state, stage):
            stage, anchor = STAGE_OF_STATE.get(step.state), index
    return anchor


def _start(rng: random.Random, now: datetime, daytime: bool) -> datetime:
    """When a problem is reported: in the last 30 days, recent days likelier, mostly by day."""
    # Recent days bring more cases, yet the whole month stays populated for the statistics.
    share = rng.random() if rng.random() < 0.5 else 1 - (1 - rng.random()) ** 0.5
    days_ago = 30 * share
    hours = range(8, 18) if daytime else range(24)
    weights = [
        1 if daytime else (0.3 if h < 7 else 0.7 if h >= 22 else 3 if h in (9, 10, 11, 14, 15, 16) else 2)
        for h in hours
    ]
    hour = rng.choices(list(hours), weights=weights)[0]
    moment = (now - timedelta(days=days_ago)).replace(
        hour=hour, minute=rng.randrange(60), second=rng.randrange(60), microsecond=0
    )
    return moment if moment < now else moment - timedelta(days=1)


def _place_in_time(plans: list[_Plan], timer: _Timer, rng: random.Random) -> None:
    now = timer.now
    for plan in plans:
        limits = stage_limits(plan.category, plan.urgency)
        start = _start(rng, now, daytime=plan.channel is Channel.INSPECTOR)
        slack = timedelta(seconds=rng.uniform(10 * MINUTE, 8 * HOUR))
        if plan.light is None:
            plan.times = timer.fit(plan, start, len(plan.steps), now - slack, limits)
            continue
        anchor = _anchor(plan)
        plan.times = _anchored(plan, anchor, timer, rng, limits)


def _anchored(
    plan: _Plan, anchor: int, timer: _Timer, rng: random.Random, limits: dict[Stage, TimeLimit]
) -> list[datetime]:
    """Times that give the running stage the plan's light at ``now``: the stage starts at a
    chosen moment, what came before it fits before, what came after follows."""
    now = timer.now
    stage = STAGE_OF_STATE[plan.steps[anchor].state]
    limit = limits[stage]
    budget = limit.total_seconds(timer.calendar)
    if plan.light is Light.GREEN:
        started = timer.back(limit, budget * timer.ratio * rng.uniform(0.05, 0.7))
    elif plan.light is Light.YELLOW:
        started = timer.back(limit, budget * (timer.ratio + (1 - timer.ratio) * rng.uniform(0.25, 0.75)))
    else:
        due = timer.back(limit, budget)
        overdue = (now - due) * rng.uniform(0.05, 1.2) + timedelta(seconds=rng.uniform(MINUTE, 6 * HOUR))
        started = max(due - overdue, min(due, now - timedelta(days=28)))
        started = min(started, due).replace(microsecond=0)
    if anchor:
        probe = timer.forward(plan, started, anchor + 1, limits)
        lead_in = probe[-1] - probe[0]
        times = timer.fit(plan, started - lead_in, anchor, started - timedelta(minutes=1), limits)
        times.append(started)
    else:
        times = [started]
    for step, before in zip(plan.steps[anchor + 1 :], plan.steps[anchor:], strict=False):
        later = timer.after(times[-1], before.state, step.delay, limits)
        if later >= now:
            later = (times[-1] + (now - times[-1]) / 2).replace(microsecond=0)
        times.append(later)
    return times


# --- running the plans through the case service -------------------------------------------------


def _run(session: Session, world: _World, plans: list[_Plan], rules: CentreRules) -> list[Case]:
    created: list[Case] = []
    for plan in sorted(plans, key=lambda p: (p.times[0], p.keep is not None, p.index)):
        data = CaseCreate(
            channel=plan.channel,
            category_code=plan.category.code,
            title=plan.title,
            description=plan.description,
            request_type=plan.request_type,
            urgency=plan.urgency,
            address=plan.address,
            lng=plan.lng,
            lat=plan.lat,
            reporter_name=plan.reporter_name,
            reporter_phone=plan.reporter_phone,
            external_id=plan.external_id,
        )
        case = create_case(session, world.users[plan.reporter], data, rules, plan.times[0])
        plan.number = case.number
        for step, moment in zip(plan.steps[1:], plan.times[1:], strict=True):
            fields = dict(step.fields)
            if step.action is A.REQUEST_EXTENSION:
                base = max(case.deadline_at or moment, moment)
                extra = fields.pop("extend_workdays") * rules.calendar.workday_seconds
                fields["new_deadline"] = rules.calendar.add_working_seconds(base, extra)
            if step.action is A.MERGE:
                assert plan.keep is not None and plan.keep.number
                fields["merge_into"] = plan.keep.number
            request = TransitionRequest(note=step.note, **fields)
            transition(session, world.users[step.actor], case.number, step.action, request, rules, moment)
        created.append(case)
    return created


def load_demo(
    session: Session, rules: CentreRules, now: datetime, cases: int = 300, seed: int = 20261124
) -> str:
    """Load the demo district into an empty, migrated database; return a one-paragraph summary."""
    if session.scalar(select(Region.id).where(Region.code == DISTRICT_CODE)) is not None:
        raise Conflict(f"region {DISTRICT_CODE} ({DISTRICT_NAME}) exists already: the demo is loaded")
    rng = random.Random(seed)
    world = _build_territory(session, rng)
    _build_people(session, world, rng)
    import_categories(session, load_categories(default_categories_path()))
    session.flush()
    world.categories = {c.code: c for c in session.scalars(select(Category))}

    planner = _Planner(world, rng)
    finals = _quotas(cases, STATE_WEIGHTS, 1)
    order = [state for state, count in finals.items() for _ in range(count) if state is not S.MERGED]
    rng.shuffle(order)
    plans = [planner.plan(index, final) for index, final in enumerate(order)]
    targeted = [
        p
        for p in plans
        if p.final not in FINAL_STATES
        and p.final in STAGE_OF_STATE
        and not any(s.action in (A.SUSPEND, A.APPROVE_EXTENSION) for s in p.steps)
    ]
    lights = [
        light for light, count in _quotas(len(targeted), LIGHT_WEIGHTS, 1).items() for _ in range(count)
    ]
    rng.shuffle(lights)
    for plan, light in zip(targeted, lights, strict=True):
        plan.light = light
        if light is Light.RED and rng.random() < 0.5:
            planner.add(
                plan, "supervisor", A.SUPERVISE, _natural(rng, HOUR, DAY), "已超期，请责任单位加快办理并反馈"
            )
    timer = _Timer(rules, now)
    _place_in_time(plans, timer, rng)

    # Each case's whole history is written at once, so a duplicate is merged into a case that
    # is still open when the demo ends: the case service refuses a merge into a finished one.
    keepable = [p for p in plans if p.final not in FINAL_STATES]
    for index in range(len(order), len(order) + finals[S.MERGED]):
        if not keepable:
            break
        keep = rng.choice(keepable)
        twin = planner.twin(index, keep)
        room = max((timer.now - keep.times[0]).total_seconds() - 20 * MINUTE, 1.0)
        start = keep.times[0] + timedelta(seconds=min(rng.uniform(20 * MINUTE, 3 * DAY), room * 0.6))
        twin.times = [start.replace(microsecond=0)]
        merged_at = twin.times[0] + timedelta(seconds=twin.steps[1].delay[1])
        twin.times.append(min(merged_at, timer.now).replace(microsecond=0))
        plans.append(twin)

    created = _run(session, world, plans, rules)
    session.flush()
    return _summary(world, created, now)


def _summary(world: _World, created: list[Case], now: datetime) -> str:
    states = Counter(case.state for case in created)
    lights = Counter(
        light_at(now, case.warning_at, case.deadline_at) for case in created if case.state not in FINAL_STATES
    )
    by_state = ", ".join(f"{state.value} {states[state]}" for state in CaseState if states[state])
    by_light = ", ".join(f"{light.value} {lights[light]}" for light in Light)
    kinds = Counter(grid.kind for grid in world.grids)
    dedicated = sum(case.grid is not None and case.grid.kind is GridKind.DEDICATED for case in created)
    in_overlays = sum(bool(case.overlay_grids) for case in created)
    return (
        f"{DISTRICT_NAME}{STREET_NAME}: {len(world.communities)} communities, {len(world.grids)} grids "
        f"({kinds[GridKind.COMPREHENSIVE]} comprehensive, {kinds[GridKind.OVERLAY]} overlay, "
        f"{kinds[GridKind.DEDICATED]} dedicated), {len(world.departments)} departments, "
        f"{len(world.users)} users, {len(created)} cases ({by_state}); {dedicated} in dedicated grids, "
        f"{in_overlays} also in an overlay grid; open cases' lights: {by_light}."
    )
