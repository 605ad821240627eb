"""The QR check code on a ticket (center/qrcheck.py): the vendor's test vectors,
forgery and tampering refused, parsing bounded, one rating per 评价次数."""
import base64
import hashlib
import hmac
import re
from dataclasses import replace

import pytest
from hypothesis import assume, given, settings, strategies as st

from center import qrcheck
from center.qrcheck import QrError, QrFields, make_code, may_rate, message, verify
from hallcore.config import ConfigError

KEY = bytes(range(32))                       # the documented test key 000102…1f
CASE = "430922202611270001"
BASE = "https://pj.example.gov.cn/qr"

# docs/DESIGN.md §13.2 "Test vectors": the same lines, so the document stays true.
VECTORS = [
    (QrFields("taojiang", CASE),
     b"7:hallqr1,8:taojiang,18:430922202611270001,1:1,1:0,",
     "dff091222f5b1fb420639e816f925ddf42000d407c59de889d7d70bed7a0919e",
     "37YJCIRPLMP3IIDD",
     "https://pj.example.gov.cn/qr?h=taojiang&c=430922202611270001&k=37YJCIRPLMP3IIDD"),
    (QrFields("taojiang", CASE, ("GA001", "RS-012")),
     b"7:hallqr1,8:taojiang,18:430922202611270001,1:1,1:2,5:GA001,6:RS-012,",
     "d38c2323315bc4b5f136c004bdb56db128edddf266bc1c08adb1a64ebb3b4edb",
     "2OGCGIZRLPCLL4JW",
     "https://pj.example.gov.cn/qr?h=taojiang&c=430922202611270001&m=GA001,RS-012&k=2OGCGIZRLPCLL4JW"),
    (QrFields("taojiang", CASE, ("GA001", "RS-012"), 2),
     b"7:hallqr1,8:taojiang,18:430922202611270001,1:2,1:2,5:GA001,6:RS-012,",
     "c803bac3a5931f755860798a48bde70fdbe949e0be490a0bd05474e1cf22ce0c",
     "ZAB3VQ5FSMPXKWDA",
     "https://pj.example.gov.cn/qr?h=taojiang&c=430922202611270001&m=GA001,RS-012&n=2&k=ZAB3VQ5FSMPXKWDA"),
    (QrFields("tj-hall.2", "A-17_x"),
     b"7:hallqr1,9:tj-hall.2,6:A-17_x,1:1,1:0,",
     "ed1627229a0ef2388814c986f0cdfed443a96d32ea88e72c09bfe2805bb18ba8",
     "5ULCOIU2B3ZDRCAU",
     "https://pj.example.gov.cn/qr?h=tj-hall.2&c=A-17_x&k=5ULCOIU2B3ZDRCAU"),
]


@pytest.mark.parametrize("fields,msg,mac_hex,code,url", VECTORS)
def test_the_documented_vectors(fields, msg, mac_hex, code, url):
    assert message(fields) == msg
    assert hmac.new(KEY, msg, hashlib.sha256).hexdigest() == mac_hex
    assert make_code(KEY, fields) == code
    # the code is the first 10 bytes of the MAC in base32, as the vendor's recipe says
    assert base64.b32encode(bytes.fromhex(mac_hex)[:10]).decode() == code
    assert qrcheck.build_url(BASE, fields, code) == url
    assert qrcheck.parse_url(url) == (fields, code)
    assert verify(KEY, fields, code)


def qr_section() -> str:
    """docs/DESIGN.md §13.2, the vendor's specification of the check code."""
    from tests.support.paths import REPO
    doc = (REPO / "docs" / "DESIGN.md").read_text(encoding="utf-8")
    return doc[doc.index("### 13.2 The QR check code"):doc.index("### 13.3 ")]


def test_the_vectors_are_in_the_design_document():
    doc = qr_section()
    for _, msg, mac_hex, code, url in VECTORS:
        assert msg.decode() in doc and mac_hex in doc and code in doc and url in doc


def test_the_documents_shell_recipe_gives_the_code():
    """The vendor's recipe, run with OpenSSL and coreutils: an implementation
    that is not ours agrees with the vectors."""
    import subprocess
    doc = qr_section()
    block = re.search(r"```sh\n(.*?)```", doc, re.S).group(1)
    expected = re.search(r"^# ([A-Z2-7]{16})$", block, re.M).group(1)
    out = subprocess.run(["bash", "-euo", "pipefail", "-c", block], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == expected == VECTORS[1][3]


# ----------------------------------------------------------- properties

SAFE = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-",
               min_size=1, max_size=12)
FIELDS = st.builds(
    QrFields,
    hall_id=SAFE,
    case_no=st.text(alphabet="0123456789ABC-", min_size=1, max_size=50),
    matters=st.lists(SAFE, max_size=5, unique=True).map(tuple),
    evaluation_no=st.sampled_from([1, 2]),
)
SECRET = st.binary(min_size=16, max_size=64)


@settings(max_examples=300)
@given(SECRET, FIELDS)
def test_a_valid_code_verifies_and_survives_the_url(secret, fields):
    code = make_code(secret, fields)
    assert re.fullmatch(r"[A-Z2-7]{16}", code)
    assert verify(secret, fields, code)
    got, got_code = qrcheck.parse_url(qrcheck.build_url(BASE, fields, code))
    assert got == fields and verify(secret, got, got_code)


@settings(max_examples=300)
@given(SECRET, FIELDS, FIELDS)
def test_any_changed_field_is_refused(secret, fields, other):
    assume(other != fields)
    assert not verify(secret, other, make_code(secret, fields))


@settings(max_examples=300)
@given(SECRET, FIELDS, st.data())
def test_a_tampered_case_number_is_refused(secret, fields, data):
    code = make_code(secret, fields)
    i = data.draw(st.integers(0, len(fields.case_no) - 1))
    ch = data.draw(st.sampled_from("0123456789ABCZ-_."))
    tampered = fields.case_no[:i] + ch + fields.case_no[i + 1:]
    assume(tampered != fields.case_no)
    assert not verify(secret, replace(fields, case_no=tampered), code)
    # appending or dropping a character too
    assert not verify(secret, replace(fields, case_no=fields.case_no + ch), code)
    if len(fields.case_no) > 1:
        assert not verify(secret, replace(fields, case_no=fields.case_no[:-1]), code)


@settings(max_examples=300)
@given(SECRET, FIELDS, st.data())
def test_a_tampered_code_is_refused(secret, fields, data):
    code = make_code(secret, fields)
    i = data.draw(st.integers(0, len(code) - 1))
    ch = data.draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"))
    assume(ch != code[i])
    assert not verify(secret, fields, code[:i] + ch + code[i + 1:])
    assert not verify(secret, fields, code.lower())
    assert not verify(secret, fields, code[:-1])
    assert not verify(secret, fields, code + "A")


@settings(max_examples=200)
@given(SECRET, SECRET, FIELDS)
def test_another_halls_secret_does_not_verify(a, b, fields):
    assume(a != b)
    assert not verify(b, fields, make_code(a, fields))
    assert not qrcheck.verify_any([b], fields, make_code(a, fields))
    assert qrcheck.verify_any([b, a], fields, make_code(a, fields))   # a kept older key still works


def test_fields_cannot_borrow_each_others_characters():
    # Without lengths, "ab"+"c" and "a"+"bc" would sign the same bytes.
    pairs = [(QrFields("ab", "c"), QrFields("a", "bc")),
             (QrFields("h", "c", ("a", "b")), QrFields("h", "c", ("ab",))),
             (QrFields("h", "c1", ()), QrFields("h", "c", ("1",))),
             (QrFields("h", "c", (), 2), QrFields("h", "c", ("2",)))]
    for x, y in pairs:
        assert message(x) != message(y)
        assert make_code(KEY, x) != make_code(KEY, y)


@settings(max_examples=200)
@given(FIELDS, FIELDS)
def test_the_message_is_injective(x, y):
    assume(x != y)
    assert message(x) != message(y)


# ----------------------------------------------------------- parsing

def url(query):
    return f"{BASE}?{query}"


GOOD = f"h=taojiang&c={CASE}&k=37YJCIRPLMP3IIDD"


@pytest.mark.parametrize("query,field,text", [
    (f"c={CASE}&k=37YJCIRPLMP3IIDD", "h", "缺少大厅编号"),
    ("h=taojiang&k=37YJCIRPLMP3IIDD", "c", "缺少办件编号"),
    (f"h=taojiang&c={CASE}", "k", "缺少校验码"),
    (f"h=taojiang&c={CASE}&k=37yjcirplmp3iidd", "k", "校验码格式不正确"),
    (f"h=taojiang&c={CASE}&k=37YJCIRPLMP3IID1", "k", "校验码格式不正确"),
    (f"h=taojiang&c={'9' * 51}&k=37YJCIRPLMP3IIDD", "c", "办件编号过长"),
    (f"h=taojiang&c=43%2F09&k=37YJCIRPLMP3IIDD", "c", "只能包含"),
    (f"h=taojiang&c={CASE}&n=3&k=37YJCIRPLMP3IIDD", "n", "评价次数只能是 1 或 2"),
    (f"h=taojiang&c={CASE}&n=01&k=37YJCIRPLMP3IIDD", "n", "评价次数"),
    (f"h=taojiang&c={CASE}&m=&k=37YJCIRPLMP3IIDD", "m", "缺少事项编码"),
    (f"h=taojiang&c={CASE}&m=A,,B&k=37YJCIRPLMP3IIDD", "m", "缺少事项编码"),
    (f"h=taojiang&c={CASE}&m=A,A&k=37YJCIRPLMP3IIDD", "m", "事项编码重复"),
    (f"h=taojiang&c={CASE}&m={','.join(f'M{i}' for i in range(51))}&k=37YJCIRPLMP3IIDD", "m", "事项过多"),
    (f"h=taojiang&c={CASE}&c=1&k=37YJCIRPLMP3IIDD", "c", "链接参数重复"),
    ("h=" + "x" * 3000, "query", "链接过长"),
])
def test_malformed_urls_are_refused_with_the_reason(query, field, text):
    with pytest.raises(QrError) as e:
        qrcheck.parse_url(url(query))
    assert e.value.field == field and text in e.value.message


def test_unknown_parameters_a_messenger_adds_are_ignored():
    fields, code = qrcheck.parse_url(url(GOOD + "&from=singlemessage&isappinstalled=0"))
    assert verify(KEY, fields, code)


def test_an_escaped_comma_reads_as_a_comma():
    fields = QrFields("taojiang", CASE, ("GA001", "RS-012"))
    got, code = qrcheck.parse_url(url(f"h=taojiang&c={CASE}&m=GA001%2CRS-012&k=2OGCGIZRLPCLL4JW"))
    assert got == fields and verify(KEY, got, code)


def test_a_url_without_n_is_the_first_evaluation():
    fields, _ = qrcheck.parse_url(url(GOOD))
    assert fields.evaluation_no == 1 and fields.matters == ()


def test_a_first_evaluation_code_does_not_open_the_second():
    fields = QrFields("taojiang", CASE, ("GA001",))
    code = make_code(KEY, fields)
    assert not verify(KEY, replace(fields, evaluation_no=2), code)


@given(st.text(max_size=300))
def test_parsing_arbitrary_text_gives_fields_or_a_qr_error(text):
    try:
        fields, code = qrcheck.parse_query(text)
    except QrError as e:
        assert e.message
    else:
        assert qrcheck.check_fields(fields) == fields and len(code) == 16


def test_build_url_refuses_what_parse_would_refuse():
    with pytest.raises(QrError, match="办件编号"):
        qrcheck.build_url(BASE, QrFields("taojiang", "中文编号"), "37YJCIRPLMP3IIDD")
    with pytest.raises(QrError, match="校验码"):
        qrcheck.build_url(BASE, QrFields("taojiang", CASE), "short")
    assert qrcheck.build_url(BASE + "?x=1", QrFields("taojiang", CASE), "37YJCIRPLMP3IIDD").startswith(
        BASE + "?x=1&h=taojiang")


def test_short_secrets_are_refused_and_bad_fields_do_not_verify():
    with pytest.raises(ValueError, match="16 bytes"):
        make_code(b"short", QrFields("taojiang", CASE))
    assert not verify(KEY, QrFields("taojiang", "中文"), "37YJCIRPLMP3IIDD")
    assert not verify(KEY, QrFields("taojiang", CASE), None)


# ----------------------------------------------------------- secrets file

def test_new_secrets_are_256_random_bits_and_round_trip_through_the_file():
    import tomllib
    a, b = qrcheck.new_secret(), qrcheck.new_secret()
    assert len(a) == 32 and a != b
    text = qrcheck.format_secrets({"taojiang": [a], "yiyang": [b, a]})
    assert qrcheck.parse_secrets(tomllib.loads(text)) == {"taojiang": (a,), "yiyang": (b, a)}


@pytest.mark.parametrize("data,key,problem", [
    ({"taojiang": "zz"}, "taojiang", "hex"),
    ({"taojiang": "00" * 8}, "taojiang", "shorter than 16"),
    ({"taojiang": ["00" * 16, 5]}, "taojiang[1]", "hex"),
    ({"taojiang": []}, "taojiang", "no secret"),
    ({"tao jiang": "00" * 16}, "tao jiang", "hall id"),
])
def test_a_bad_secrets_file_names_the_key(data, key, problem):
    with pytest.raises(ConfigError) as e:
        qrcheck.parse_secrets(data, source="qr-secrets.toml")
    assert e.value.key == key and problem in e.value.problem and "qr-secrets.toml" in str(e.value)


# ----------------------------------------------------------- once per 评价次数

def test_each_matter_is_rated_once_per_evaluation_number():
    rated = {(CASE, "GA001", 1)}
    assert may_rate(set(), CASE, "GA001").allowed
    refused = may_rate(rated, CASE, "GA001")
    assert not refused.allowed and refused.reason == "该事项已经评价过，不能重复评价"
    assert may_rate(rated, CASE, "RS-012").allowed
    assert may_rate(rated, "OTHER", "GA001").allowed
    assert qrcheck.remaining(rated, CASE, ["GA001", "RS-012"]) == ["RS-012"]


def test_a_matter_not_on_the_code_is_refused():
    d = may_rate(set(), CASE, "XX9", matters=("GA001",))
    assert not d.allowed and "没有这个事项" in d.reason


def test_a_second_evaluation_needs_the_first_and_rectification_and_happens_once():
    assert may_rate(set(), CASE, "GA001", 2, second_allowed=True).reason == "请先完成首次评价"
    first = {(CASE, "GA001", 1)}
    assert may_rate(first, CASE, "GA001", 2).reason == "整改完成后才能进行二次评价"
    assert may_rate(first, CASE, "GA001", 2, second_allowed=True).allowed
    both = first | {(CASE, "GA001", 2)}
    assert may_rate(both, CASE, "GA001", 2, second_allowed=True).reason == "该事项已经进行过二次评价"
    assert not may_rate(both, CASE, "GA001", 3).allowed
    assert not may_rate(both, CASE, "GA001", True).allowed


@given(st.sets(st.tuples(st.sampled_from(["C1", "C2"]), st.sampled_from(["A", "B"]), st.sampled_from([1, 2]))),
       st.sampled_from(["C1", "C2"]), st.sampled_from(["A", "B"]), st.sampled_from([1, 2]), st.booleans())
def test_an_allowed_rating_is_never_already_stored(rated, case_no, matter, n, second):
    d = may_rate(rated, case_no, matter, n, second_allowed=second)
    if d.allowed:
        assert (case_no, matter, n) not in rated
        assert n == 1 or ((case_no, matter, 1) in rated and second)
    else:
        assert d.reason
