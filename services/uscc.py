"""统一社会信用代码 (unified social credit code, GB 32100-2015): normalising and checking one.

Eighteen characters of ``ALPHABET`` (digits and upper-case letters but I, O, Z, S and V):

====  =====================================================================================
1     registration authority (登记管理部门代码): ``AUTHORITIES``
2     organisation type (机构类别代码), one of those its authority registers
3–8   administrative division of the registering authority (GB/T 2260, six digits)
9–17  organisation code (主体标识码, GB 11714)
18    check character (GB/T 17710): weights ``WEIGHTS`` over positions 1–17, character
      values 0–30 in ``ALPHABET``; check = 31 − (sum mod 31), 31 written as 0
====  =====================================================================================

Not python-stdnum's ``cn.uscc``: it wants digits in positions 1–8, so it refuses the valid
codes of village collectives (``N…``, 农村集体经济组织) and military institutions (``A…``), who
buy and sell here. The organisation code's own GB 11714 check is not applied: codes given to
individual businesses by their registration authority need not carry it.
"""

from __future__ import annotations

import re

from services.error_codes import UnitError
from services.errors import InvalidInput
from services.pii import BLANKS

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
LENGTH = 18

# Registration authority (position 1) → the organisation types (position 2) it registers, as
# GB 32100-2015 with its amendment No. 1 and the authority codes assigned since list them. An
# authority assigned later is one line here.
AUTHORITIES: dict[str, str] = {
    "1": "1239",  # 机构编制: 机关, 事业单位, 中央编办直接管理机构编制的群众团体, 其他
    "2": "19",  # 外交: 外国常驻新闻机构, 其他
    "3": "123459",  # 司法行政: 律师执业机构, 公证处, 基层法律服务所, 司法鉴定机构, 仲裁委员会, 其他
    "4": "19",  # 文化: 外国在华文化中心, 其他
    "5": "1239",  # 民政: 社会团体, 民办非企业单位, 基金会, 其他
    "6": "129",  # 旅游: 外国旅游部门常驻代表机构, 港澳台地区旅游部门常驻内地代表机构, 其他
    "7": "129",  # 宗教: 宗教活动场所, 宗教院校, 其他
    "8": "19",  # 工会: 基层工会, 其他
    "9": "123",  # 工商 (市场监管): 企业, 个体工商户, 农民专业合作社
    "A": "19",  # 中央军委改革和编制办公室: 军队事业单位, 其他
    "N": "1239",  # 农业农村: 组级, 村级, 乡镇级集体经济组织, 其他
    "Y": "1",  # 其他 (no further types)
}

_VALUES = {char: value for value, char in enumerate(ALPHABET)}

# What a client may send (the spec publishes it; ``normalise_uscc`` enforces it): the 18
# characters in either case, as a code is copied from a licence: up to two blanks before and
# after it, and one between any two characters ("9111 0000 ..."). Blanks are those of
# ``services.pii.BLANKS`` (what ``str.isspace`` strips), the full-width space among them. The
# authority, type and check character are rules no pattern states.
_CHARS = "[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]"
_B = f"[{BLANKS}]"
PATTERN = f"^{_B}{{0,2}}(?:{_CHARS}{_B}?){{{LENGTH - 1}}}{_CHARS}{_B}{{0,2}}$"
MAX_INPUT_LENGTH = 2 + (LENGTH - 1) * 2 + 1 + 2
_PATTERN_RE = re.compile(PATTERN.removesuffix("$") + r"\Z")


def check_character(first17: str) -> str:
    """The check character of the first 17 (upper-case, alphabet) characters of a code."""
    total = sum(_VALUES[char] * weight for char, weight in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def normalise_uscc(raw: str, field: str = "uscc") -> str:
    """The code in upper case without blanks, or ``invalid_uscc`` naming the rule it breaks."""
    if not _PATTERN_RE.match(raw):
        problem = "须为18位数字或大写字母（不含I、O、Z、S、V）"
    else:
        code = "".join(char for char in raw if not char.isspace()).upper()
        types = AUTHORITIES.get(code[0])
        if types is None:
            problem = "第1位登记管理部门代码不存在"
        elif code[1] not in types:
            problem = "第2位机构类别代码与登记管理部门不符"
        elif not code[2:8].isdigit():
            problem = "第3-8位须为行政区划代码"
        elif code[-1] != check_character(code[:-1]):
            problem = "校验码不符"
        else:
            return code
    raise UnitError.INVALID_USCC(errors={field: [problem]})


def is_valid(raw: str) -> bool:
    try:
        normalise_uscc(raw)
    except InvalidInput:
        return False
    return True
