"""Every text the kiosk screens show, in one place.

Kept apart from the .kv files so the font-coverage test and the font build
script can read them without starting Kivy.
"""
from __future__ import annotations

IDLE_TITLE = "欢迎评价我们的服务"
IDLE_WINDOW = "{window} 号窗口"
IDLE_STAFF = "工作人员：{staff}"
IDLE_STAFF_NONE = "工作人员：—"
IDLE_HINT = "办理完毕后，请为本次服务评价"
IDLE_STAFF_TITLE = "本窗口工作人员"
IDLE_STAFF_NO = "工号 {id}"

SERVING_TITLE = "正在为您办理"
SERVING_TICKET = "当前号码：{ticket}"
SERVING_HINT = "办理完毕后，请在此屏幕上评价"

RATING_TITLE = "请您对本次服务作出评价"
RATING_MATTER = "第 {index}/{count} 项：{matter}"
RATING_HINT = "请点击下方按钮"

REASONS_TITLE = "请选择不满意的原因（可多选）"
REASONS_OTHER_HINT = "其他原因（可不填）"
REASONS_CONFIRM = "下一步"
REASON_MARK_ON = "✓"

PHONE_TITLE = "如需回访，请留下手机号码"
PHONE_HINT = "不留号码请点击“跳过”"
PHONE_EMPTY = "请输入 11 位手机号码"
PHONE_SKIP = "跳过"
PHONE_CONFIRM = "确认"
PHONE_DELETE = "删除"

THANKS_TITLE = "感谢您的评价！"
THANKS_HINT = "您的意见是我们改进工作的动力"

REMINDER_TITLE = "请您完成评价"
REMINDER_HINT = "请点击屏幕上的按钮继续"

ADMIN_PIN_TITLE = "管理员登录"
ADMIN_PIN_HINT = "请输入管理密码"
ADMIN_PIN_WRONG = "密码错误"
ADMIN_PIN_LOCKED = "错误次数过多，请 {seconds} 秒后再试"
ADMIN_CANCEL = "取消"
ADMIN_TITLE = "终端管理"
ADMIN_QUEUE = "叫号系统连接：{state}"
ADMIN_SYNC = "中心同步：{state}"
ADMIN_PENDING = "待上传记录：{count}"
ADMIN_QUARANTINE = "隔离记录：{count}"
ADMIN_DEVICE = "设备编号：{device}"
ADMIN_VERSION = "版本：{version}"
ADMIN_TEST_MODE = "测试模式：{state}"
ADMIN_BUNDLE = "中心下发配置：{state}"
ADMIN_BUNDLE_NONE = "无（使用本机配置文件）"
ADMIN_BUNDLE_WAITING = "，新版本 {version} 待空闲时启用"
ADMIN_BUNDLE_REFUSED = "，配置文件未采用：{problem}"
ADMIN_CLOCK_WRONG = "时钟错误，暂停评价，请校准平板的日期和时间（{problem}）"
TEST_MODE_BANNER = "测试模式 · 评价不上报"
ADMIN_ON = "开"
ADMIN_OFF = "关"
ADMIN_UNKNOWN = "未知"
ADMIN_BACK = "返回评价"
ADMIN_EXIT = "退出程序"


def all_strings() -> list[str]:
    """Every literal above (format placeholders included; they are ASCII)."""
    out: list[str] = []
    for name, value in globals().items():
        if name.isupper() and isinstance(value, str):
            out.append(value)
        elif name.isupper() and isinstance(value, tuple):
            out.extend(v for v in value if isinstance(v, str))
    return out
