"""Holiday notices for the calendar import's tests: the published 2024-2026
notices (tests/hallcore/data/) and hypothetical ones for years not published."""
from tests.support.paths import REPO

DATA = REPO / "tests" / "hallcore" / "data"
HYPOTHETICAL_2027 = DATA / "hypothetical-notice-2027.txt"    # the real one is not out yet


def notice_text(year: int) -> str:
    return (DATA / f"holiday-notice-{year}.txt").read_text(encoding="utf-8")


# A notice for a year nobody has published, with every form the parser must read:
# the title over two lines, CRLF, full-width indentation, full-width digits,
# half-width punctuation mixed with full-width, a 元旦 from the December before
# (its make-up day too), single days with and without 放假1天, a range across
# a month end, 星期X, lunar dates. Every weekday and lunar date is true.
HYPOTHETICAL_2030 = "\r\n".join([
    "国务院办公厅关于2030年",
    "部分节假日安排的通知",
    "",
    "各省、自治区、直辖市人民政府，国务院各部委、各直属机构：",
    "",
    "　　经国务院批准，现将2030年元旦、春节、清明节、劳动节、端午节、中秋节和国庆节放假调休日期的具体安排通知如下。",
    "",
    "　　一、元旦：12月30日（周日）至1月1日（周二）放假调休，共3天。12月29日（周六）上班。",
    "二、春节:2月2日(农历除夕、周六)至9日(农历正月初七,星期六)放假调休,共8天.2月10日(周日)上班.",
    "三、清明节：4月5日放假。",
    "四、劳动节：５月１日（周三）放假１天，不调休。",
    "五、 端午节 ：6月5日（农历五月初五、周三）放假1天,不调休。",
    "六、中秋节：9月12日(农历八月十五、周四)放假1天，不调休。",
    "七、国庆节：9月30日（周一）至10月8日（周二）放假调休，共9天。9月29日（星期日）、10月12日（星期六）上班。",
    "",
    "节假日期间，各地区、各部门要妥善安排好值班和安全、保卫等工作。",
    "",
    "国务院办公厅",
    "2029年11月1日",
    "",
])
