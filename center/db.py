"""The center's tables, the engine, and running the shipped Alembic migrations.

SQLAlchemy Core tables (no ORM): ingest and statistics are set-based SQL.
Times are stored as naive UTC; center/timefmt.py turns them into hall time.
"""
from __future__ import annotations

import select
import time
from pathlib import Path

from sqlalchemy import (
    JSON, BigInteger, Boolean, CheckConstraint, Column, Date, DateTime, ForeignKey, Index, Integer,
    MetaData, SmallInteger, String, Table, Text, UniqueConstraint, create_engine, event, false,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

from hallcore.fsutil import create_private, restrict
from hallcore.packagedata import shipped

from .sqlutil import together_aware

metadata = MetaData()

devices = Table(
    "devices", metadata,
    Column("device_id", String(64), primary_key=True),
    # the enrollment: a record must name this hall, window and region (null:
    # the center's default region, else the first stored record's)
    Column("hall_id", String(64), nullable=False),
    Column("window_id", String(64), nullable=False),
    Column("region_code", String(6)),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    # seq bookkeeping maintained at ingest: seq_count = distinct seqs stored, so
    # missing = max_seq - seq_count and repeated = record_count - seq_count
    Column("record_count", BigInteger, nullable=False, default=0),
    Column("max_seq", BigInteger, nullable=False, default=0),
    Column("seq_count", BigInteger, nullable=False, default=0),
    Column("conflict_count", BigInteger, nullable=False, default=0),
    Column("last_post_at", DateTime),
    Column("rejected_count", BigInteger, nullable=False, default=0),
    Column("heartbeat_at", DateTime),
    Column("heartbeat", JSON),
    Column("clock_skew_s", Integer),
    # tamper evidence (hallcore/chain.py): the chain head of the latest heartbeat
    # that carried one (a later one without it keeps it), with that heartbeat's
    # pending, and what the last `hall-center audit` found
    Column("chain_seq", BigInteger),
    Column("chain_hash", String(64)),
    Column("chain_pending", BigInteger),
    Column("chain_reported_at", DateTime),
    Column("chain_audited_at", DateTime),
    Column("chain_audit", JSON),         # {"state": intact|problems|unchained|empty, "problems": n, "findings": [...]}
)

records = Table(
    "records", metadata,
    Column("id", String(36), primary_key=True),
    Column("device_id", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("region_code", String(6), nullable=False),
    Column("hall_id", String(64), nullable=False),
    Column("window_id", String(64), nullable=False),
    Column("department", String(200), nullable=False),
    Column("staff_id", String(200), nullable=False),
    Column("staff_name", String(200), nullable=False),
    Column("matter_code", String(200), nullable=False),
    Column("matter_name", String(200), nullable=False),
    Column("result", String(8), nullable=False),
    Column("satisfaction_code", Integer),
    Column("bad", Boolean, nullable=False),
    Column("channel", String(16), nullable=False),   # 评价渠道 (center/channels.py), as in the body
    Column("day", Date, nullable=False),             # hall-local day of the vote (or prompt)
    Column("at", DateTime, nullable=False),          # voted_at (or prompted_at), UTC
    Column("received_at", DateTime, nullable=False),
    Column("body", JSON, nullable=False),             # the record exactly as the tablet sent it
    Index("ix_records_day", "day"),
    Index("ix_records_device_seq", "device_id", "seq"),
)

# A record id sent again with other content: answered `duplicate` (the first
# copy stays), and the other copy is kept here for the device page.
record_conflicts = Table(
    "record_conflicts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_id", String(36), nullable=False, index=True),
    Column("device_id", String(64), nullable=False),          # the device that sent the other copy
    Column("received_at", DateTime, nullable=False),
    Column("fields", JSON, nullable=False),                   # names of the fields that differ
    Column("body", JSON, nullable=False),                     # the other copy as sent
    Index("ix_record_conflicts_device", "device_id", "id"),
)

# Enrollment changes (enroll, move, region learned): who sent what is judged
# against the enrollment, so its history is kept.
device_log = Table(
    "device_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String(64), nullable=False, index=True),
    Column("at", DateTime, nullable=False),
    Column("action", String(16), nullable=False),
    Column("previous", JSON),                                 # the enrollment before (null: none)
    Column("enrollment", JSON, nullable=False),               # hall, window, region after
)

# One row per (day, department, window, staff, matter, channel, rating): what
# the statistics pages read, so their cost does not grow with the number of
# records. satisfaction_code is the record's (GB/T 39046 A.8), 0 for an
# unrated record (a key column cannot be NULL: NULLs never conflict).
daily_stats = Table(
    "daily_stats", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("day", Date, nullable=False),
    Column("department", String(200), nullable=False),
    Column("window_id", String(64), nullable=False),
    Column("staff_id", String(200), nullable=False),
    Column("staff_name", String(200), nullable=False),
    Column("matter_code", String(200), nullable=False),
    Column("matter_name", String(200), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("satisfaction_code", SmallInteger, nullable=False),
    Column("total", BigInteger, nullable=False, default=0),
    Column("rated", BigInteger, nullable=False, default=0),
    Column("good", BigInteger, nullable=False, default=0),
    Column("bad", BigInteger, nullable=False, default=0),
    Column("excluded", BigInteger, nullable=False, default=0),   # bad reviews upheld on appeal
    UniqueConstraint("day", "department", "window_id", "staff_id", "staff_name",
                     "matter_code", "matter_name", "channel", "satisfaction_code",
                     name="uq_daily_stats_key"),
)

# 综合点评: what staff enter from the 意见箱, the 热线电话 and the 形象监督员
# (center/comments.py checks it). A 差评 entry opens a case (cases.comment_id).
comments = Table(
    "comments", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(16), nullable=False),          # box | hotline | monitor
    Column("verdict", String(8), nullable=False),          # good | neutral | bad
    Column("negative", Boolean, nullable=False),
    Column("text", Text, nullable=False),
    Column("department", String(200)),
    Column("window_id", String(64)),
    Column("matter_code", String(200)),
    Column("matter_name", String(200)),
    Column("contact_phone", String(20)),
    Column("received_at", DateTime, nullable=False),       # when the hall received it (the deadline counts from it)
    Column("entered_by", String(64), nullable=False),
    Column("entered_at", DateTime, nullable=False),
    Index("ix_comments_received", "received_at"),
    Index("ix_comments_window", "window_id"),
)

CASE_SOURCE_RULE = ("(source = 'record' AND record_id IS NOT NULL AND comment_id IS NULL) OR "
                    "(source = 'comment' AND comment_id IS NOT NULL AND record_id IS NULL)")

cases = Table(
    "cases", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # a case comes from a tablet's bad review (source "record") or from a
    # 综合点评 entry (source "comment"): exactly one of the two is set
    Column("record_id", String(36), ForeignKey("records.id"), unique=True),
    Column("source", String(16), nullable=False, default="record", server_default="record"),
    Column("comment_id", Integer, ForeignKey("comments.id", name="fk_cases_comment_id")),
    Column("hall_id", String(64), nullable=False),
    Column("window_id", String(64), nullable=False),
    Column("department", String(200), nullable=False),
    Column("staff_id", String(200), nullable=False),
    Column("matter_code", String(200), nullable=False),
    # a record's case: its record's names, so the statistics count cases by
    # staff and matter without reading records (null for an entry's case)
    Column("staff_name", String(200)),
    Column("matter_name", String(200)),
    Column("state", String(16), nullable=False),
    Column("voted_at", DateTime, nullable=False),
    Column("due_at", DateTime, nullable=False),            # current deadline (2 or 7 working days)
    Column("calendar_verified", Boolean, nullable=False),
    Column("tablet_due_at", DateTime),                     # what the tablet computed, kept for comparison
    Column("feedback", Text),
    Column("handled_at", DateTime),
    Column("closed_at", DateTime),
    Column("on_time", Boolean),
    Column("appeal", String(16), nullable=False, default="none"),
    Column("appeal_claim", String(16)),
    Column("appeal_note", Text),
    Column("due_alerted", Boolean, nullable=False, default=False),
    Column("escalated", Boolean, nullable=False, default=False),
    Column("updated_at", DateTime, nullable=False),
    # The handling mechanism (center/handling.py, DESIGN §13.3): columns beside
    # the state, so every state transition of cases.py still holds.
    Column("ruled_on_spot", Boolean, nullable=False, default=False, server_default=false()),  # 当场裁定
    Column("assigned_department", String(200)),              # 责任部门 of the latest 交办
    Column("assigned_at", DateTime),
    Column("supervision_count", Integer, nullable=False, default=0, server_default="0"),  # 督办 notices
    Column("last_supervised_at", DateTime),
    Column("proposal", Text),                                # 拟办意见
    Column("proposed_at", DateTime),
    Column("rectification", Text),                           # 整改结果
    Column("rectified_at", DateTime),
    Column("reply_told_at", DateTime),                       # 回复结果: when the citizen was told
    Column("visited", Boolean, nullable=False, default=False, server_default=false()),  # 是否回访
    Column("visit_method", String(16)),                      # 回访信息: phone | sms | on_site | online
    Column("visited_at", DateTime),
    Column("visit_satisfaction", String(32)),                # the 3-level name
    Column("visit_note", Text),
    Column("second_evaluated", Boolean, nullable=False, default=False, server_default=false()),
    Column("second_rating", String(32)),                     # 二次评价 (its row: second_evaluations)
    Column("second_channel", String(16)),
    Column("second_evaluated_at", DateTime),
    Column("second_record_id", String(36)),                  # a QR-page rating stored as its own record
    Column("structural", Boolean, nullable=False, default=False, server_default=false()),  # 体制机制
    Column("structural_note", Text),
    Index("ix_cases_state_due", "state", "due_at"),
    Index("ix_cases_window", "window_id"),
    # covering index: the statistics count cases per period without reading the rows (stats.summary)
    Index("ix_cases_voted", "voted_at", "state", "on_time", "appeal", "rectified_at", "source", "window_id",
          "department", "staff_id", "staff_name", "matter_code", "matter_name"),
    UniqueConstraint("comment_id", name="uq_cases_comment_id"),
    CheckConstraint(CASE_SOURCE_RULE, name="ck_cases_source"),
)

case_log = Table(
    "case_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False, index=True),
    Column("at", DateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("from_state", String(16)),
    Column("to_state", String(16)),
    Column("note", Text),
)

# 典型案例 for the public page (center/disclosure.py, DESIGN §13.9): a case a
# supervisor marked 表彰 or 通报, with the public summary they wrote. A row of
# its own, not columns on cases: the public page reads only this table's
# columns and the case's few public ones; unmarking deletes the row (each
# mark and unmark is in case_log).
typical_cases = Table(
    "typical_cases", metadata,
    Column("case_id", Integer, ForeignKey("cases.id", name="fk_typical_cases_case_id"), primary_key=True,
           autoincrement=False),
    Column("kind", String(16), nullable=False),              # commendation (表彰) | notice (通报)
    Column("summary", Text, nullable=False),                 # checked: no phone or ID numbers
    Column("marked_by", String(64), nullable=False),
    Column("marked_at", DateTime, nullable=False),
    CheckConstraint("kind IN ('commendation', 'notice')", name="ck_typical_cases_kind"),
)

# 督办 notices, GB/T 39046-2020 table 11: one row per 交办 (kind assign) and
# per 督办 (kind supervise, by a supervisor or the overdue escalation).
supervisions = Table(
    "supervisions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),              # assign | supervise
    Column("content", Text, nullable=False),                 # 督办内容
    Column("issued_at", DateTime, nullable=False),           # 督办发出时间
    Column("department", String(200), nullable=False),       # 责任部门
    Column("warning_code", String(20)),                      # 监察预警类型代码 (the province's list)
    Column("due_at", DateTime, nullable=False),              # the case's deadline it names
    Column("actor", String(64), nullable=False),
)

# 二次评价: the citizen's evaluation after rectification (评价次数 2), a row of
# its own linked to the first evaluation's record; the first stays as it was.
second_evaluations = Table(
    "second_evaluations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False, unique=True),
    Column("first_record_id", String(36), ForeignKey("records.id"), nullable=False),
    Column("evaluation_no", SmallInteger, nullable=False),   # 评价次数: 2
    Column("scale", SmallInteger, nullable=False),
    Column("rating", String(32), nullable=False),
    Column("satisfaction_code", Integer, nullable=False),    # GB/T 39046 appendix A.8
    Column("bad", Boolean, nullable=False),
    Column("channel", String(16), nullable=False),           # center/channels.py: phone | qr
    Column("at", DateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("record_id", String(36)),                         # the QR page's own record, if any
    UniqueConstraint("first_record_id", "evaluation_no", name="uq_second_evaluations_first"),
)

# 整改重点: structural problems found by cases closed as 体制机制, tracked to
# done (center/handling.py item_apply), each step in rectification_log.
rectification_items = Table(
    "rectification_items", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("cases.id"), index=True),
    Column("state", String(16), nullable=False),             # open | in_progress | done
    Column("cause", Text, nullable=False),
    Column("department", String(200), nullable=False),
    Column("opened_at", DateTime, nullable=False),
    Column("target_at", DateTime),                           # 整改期限 (none: not set)
    Column("plan", Text),
    Column("started_at", DateTime),
    Column("result", Text),
    Column("done_at", DateTime),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_rectification_items_state", "state", "target_at"),
)

rectification_log = Table(
    "rectification_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, ForeignKey("rectification_items.id"), nullable=False, index=True),
    Column("at", DateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(16), nullable=False),
    Column("from_state", String(16)),
    Column("to_state", String(16)),
    Column("note", Text),
)

# The directory (center/directory.py): 进驻单位, their windows (a window id is
# the tablets' window_id) and staff (the queue system's staff_id).
departments = Table(
    "departments", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
)

windows = Table(
    "windows", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("department_id", String(64), ForeignKey("departments.id"), nullable=False, index=True),
)

staff = Table(
    "staff", metadata,
    Column("id", String(200), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("window_id", String(64), ForeignKey("windows.id"), nullable=False, index=True),
)

# Outbox of alerts: a row per (alert, channel) until delivered; retried with backoff.
alerts = Table(
    "alerts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("cases.id"), index=True),
    Column("kind", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("delivered_at", DateTime),
    Column("last_error", Text),
    Index("ix_alerts_pending", "delivered_at", "next_attempt_at"),
)

# 监督查评: a seeded draw of evaluated records per window (center/sampling.py),
# repeatable for audit from what is stored here.
samples = Table(
    "samples", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("period_start", Date, nullable=False),           # hall days, inclusive
    Column("period_end", Date, nullable=False),
    Column("window_id", String(64)),                        # one window only, or every window (NULL)
    Column("share", String(32), nullable=False),            # as given ("0.05"), read exactly by sampling.as_share
    Column("min_per_window", Integer, nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("population", BigInteger, nullable=False),       # evaluated records the draw was made from
    Column("population_by_window", JSON, nullable=False),   # window -> count, to tell a changed input at audit
    Column("drawn_by", String(64), nullable=False),
    Column("drawn_at", DateTime, nullable=False),
)

sample_items = Table(
    "sample_items", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sample_id", Integer, ForeignKey("samples.id"), nullable=False),
    Column("record_id", String(36), ForeignKey("records.id"), nullable=False, index=True),
    Column("window_id", String(64), nullable=False),
    UniqueConstraint("sample_id", "record_id", name="uq_sample_items_record"),
)

# One row per call. A record may be called again until the citizen is reached;
# the statistics read each record's latest call. The phone rating is a check
# of the tablet's (channel 电话), never a record of its own.
return_visits = Table(
    "return_visits", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, ForeignKey("sample_items.id"), nullable=False, index=True),
    Column("channel", String(16), nullable=False),          # "phone" (center/channels.py: return_visit)
    Column("reached", Boolean, nullable=False),
    Column("phone_scale", Integer),
    Column("phone_rating", String(32)),                     # None: not reached, or the citizen would not rate
    Column("exact", Boolean),                               # same level as the tablet (None: nothing compared)
    Column("same_class", Boolean),                          # both good or both bad
    Column("remarks", Text, nullable=False),
    Column("visited_by", String(64), nullable=False),
    Column("visited_at", DateTime, nullable=False),
)

users = Table(
    "users", metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("window_id", String(64)),
    Column("password_hash", String(256), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("disabled_at", DateTime),                 # set by disable-user: no login, no session
    # the user's own staff id (the queue system's), if the user also serves at a
    # window: anomaly flags about that staff member are never shown to the user
    Column("staff_id", String(200)),
)

# Staff sessions (center/sessions.py): the cookie's random key, only as its SHA-256.
sessions = Table(
    "sessions", metadata,
    Column("key_hash", String(64), primary_key=True),
    Column("user_name", String(64), ForeignKey("users.name"), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),      # the token every form of this session carries
    Column("created_at", DateTime, nullable=False),
    Column("seen_at", DateTime, nullable=False),     # last request (written at most once a minute)
)


# The county's 互联网+政务服务 platform (or another) posting through
# /api/v1/integration/evaluations: its token only as a SHA-256, the hall it may
# post for, and the same seq bookkeeping as a tablet's (device_id "integration:<name>").
integration_clients = Table(
    "integration_clients", metadata,
    Column("name", String(48), primary_key=True),
    Column("hall_id", String(64), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("record_count", BigInteger, nullable=False, default=0),
    Column("max_seq", BigInteger, nullable=False, default=0),
    Column("seq_count", BigInteger, nullable=False, default=0),
    Column("conflict_count", BigInteger, nullable=False, default=0),
    Column("rejected_count", BigInteger, nullable=False, default=0),
    Column("last_post_at", DateTime),
)

# One rating per (hall, 办件, matter, 评价次数) through the center's QR page: the
# unique key is the one-time rule (two phones racing: one insert wins); the
# row's id is the stored record's seq (device_id "qr:<hall>").
qr_ratings = Table(
    "qr_ratings", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hall_id", String(64), nullable=False),
    Column("case_no", String(64), nullable=False),
    Column("matter_code", String(64), nullable=False),
    Column("evaluation_no", Integer, nullable=False),
    Column("record_id", String(36), nullable=False, unique=True),
    Column("rated_at", DateTime, nullable=False),
    UniqueConstraint("hall_id", "case_no", "matter_code", "evaluation_no", name="uq_qr_ratings_once"),
)


# The push to the provincial 好差评 system (center/upstreamwork.py): one row per
# message (an evaluation, its 整改 result, a 二次评价), written in the
# transaction that stored its cause and kept after it is sent (what went up,
# when). The payload is built when the message is sent, from the stored
# record and case, so a corrected province profile applies to the backlog;
# `payload` is what was last sent. Claimed with center/leasing.py.
upstream_outbox = Table(
    "upstream_outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_key", String(120), nullable=False, unique=True),   # kind:办件编号:评价次数
    Column("kind", String(16), nullable=False),                        # evaluation | rectification
    Column("evaluation_no", SmallInteger, nullable=False),             # 评价次数
    Column("record_id", String(36), ForeignKey("records.id", name="fk_upstream_outbox_record_id"),
           nullable=False, index=True),
    Column("case_id", Integer, ForeignKey("cases.id", name="fk_upstream_outbox_case_id")),
    Column("payload", JSON),                                           # as last sent (null: not tried yet)
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("sent_at", DateTime),                                       # the province took it (or had it)
    Column("last_attempt_at", DateTime),
    Column("last_outcome", String(16)),                                # sent | already_sent | retry | unmappable
    # the message's latest failure, kept after it is sent (the status page's "last error"):
    # when, the HTTP status of that answer (null: no answer, or the profile could not map it), why
    Column("last_status", Integer),
    Column("last_failed_at", DateTime),
    Column("last_error", Text),
    Column("created_at", DateTime, nullable=False),
    Index("ix_upstream_outbox_pending", "sent_at", "next_attempt_at"),
    Index("ix_upstream_outbox_failed", "last_failed_at"),
)

# Stored records that do not go upstream, counted per (hall day, window, why):
# unrated (never uploaded as a rating), no_case_no (the province keys by
# 办件编号), same_key (another record already holds its 办件编号 and 评价次数).
upstream_skips = Table(
    "upstream_skips", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("day", Date, nullable=False),
    Column("window_id", String(64), nullable=False),
    Column("why", String(16), nullable=False),
    Column("count", BigInteger, nullable=False, default=0),
    Column("last_record_id", String(36), nullable=False),
    UniqueConstraint("day", "window_id", "why", name="uq_upstream_skips_key"),
)

FLAG_STATES = ("open", "dismissed", "superseded")

# Anomaly flags for supervisors (rules: center/anomalies.py; scan and page:
# center/flagwork.py): one row per Flag.key, inserted only if absent, so a
# dismissed key is never raised again and two scans cannot double a flag.
# Never shown to the staff it concerns (staff_ids; anomalies.visible_to).
anomaly_flags = Table(
    "anomaly_flags", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False, unique=True),     # anomalies.Flag.key
    Column("kind", String(32), nullable=False),                 # anomalies.KINDS
    Column("subject", String(300), nullable=False),             # window:03, staff:1024, phone:<digest>
    Column("window_id", String(64)),
    Column("staff_ids", JSON, nullable=False),                  # the staff it concerns, sorted
    Column("summary", Text, nullable=False),
    Column("evidence", JSON, nullable=False),                   # record ids, sorted
    Column("facts", JSON, nullable=False),
    Column("period_first", Date),                               # the judged period (period rules only)
    Column("period_last", Date),
    Column("first_at", DateTime),                               # the evidence's first and last record (UTC)
    Column("last_at", DateTime),
    Column("raised_at", DateTime, nullable=False),
    Column("state", String(16), nullable=False),                # FLAG_STATES
    Column("superseded_by", String(64)),                        # the key of the flag with more evidence
    Column("dismissed_by", String(64)),
    Column("dismissed_at", DateTime),
    Column("note", Text),                                       # the supervisor's, required to dismiss
    Index("ix_anomaly_flags_state", "state", "raised_at"),
    Index("ix_anomaly_flags_subject", "kind", "subject"),
    CheckConstraint("state IN ('open', 'dismissed', 'superseded')", name="ck_anomaly_flags_state"),
)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            private_sqlite_files(Path(path))
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        _sqlite_write_locks(engine)
        return engine
    engine = create_engine(url, pool_size=10, max_overflow=10)
    _ping_when_idle(engine)
    together_aware(engine)
    return engine


# A pooled connection used this many seconds ago, with nothing to read on its
# socket, is taken without a ping.
RECENTLY_USED_S = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """pool_pre_ping, less its round trip on a busy server: a connection
    checked in under RECENTLY_USED_S ago whose socket has nothing to read is
    used at once (a server that closed or terminated it has written to the
    socket, so its end shows as readable); any other is pinged first, and one
    that fails the ping is replaced (DisconnectionError: the pool's retry)."""
    in_at = "hall_checked_in"

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn, record):
        record.info[in_at] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn, record, _proxy):
        last = record.info.get(in_at)
        if last is None:          # connected just now
            return
        if time.monotonic() - last < RECENTLY_USED_S and not _readable(dbapi_conn):
            return
        try:
            ok = engine.dialect.do_ping(dbapi_conn)
        except Exception as e:
            raise DisconnectionError(f"the pooled connection failed its ping: {e}") from e
        if not ok:
            raise DisconnectionError("the pooled connection failed its ping")


def _readable(dbapi_conn) -> bool:
    """Whether an idle psycopg connection has input waiting (an error, a
    notice, the end of the connection), without blocking."""
    try:
        fd = dbapi_conn.pgconn.socket
        return bool(select.select([fd], [], [], 0)[0])
    except Exception:       # closed or broken: the ping decides
        return True


def private_sqlite_files(path: Path) -> None:
    """The database holds citizens' phone numbers: create it 0600 before
    SQLite opens it (SQLite gives its -wal and -shm files the database
    file's mode); an existing one readable by others loses those bits."""
    path.parent.mkdir(parents=True, exist_ok=True)
    create_private(path)
    for extra in ("-wal", "-shm", "-journal"):
        try:
            restrict(path.with_name(path.name + extra))
        except FileNotFoundError:
            pass


def _sqlite_write_locks(engine: Engine) -> None:
    """WAL for concurrent readers; BEGIN IMMEDIATE so two writers queue on
    the busy timeout instead of one failing when it upgrades a read lock."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


# The advisory lock key that serialises migrations on PostgreSQL (any fixed
# 64-bit number; advisory locks are per database): "hallmigr" in ASCII.
MIGRATE_LOCK = 0x68616C6C6D696772


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database to the newest schema (or `revision`) with the
    migrations shipped in center/migrations (run at `serve` and by the tests).

    SQLite changes a column by copying its table and dropping the old one;
    with foreign keys on, that drop fails for a table other rows refer to
    (cases: case_log, alerts). So, as SQLite's documentation prescribes,
    foreign keys are off while migrating, checked before the commit, and on
    again afterwards.

    Several instances on one PostgreSQL may start at the same moment: the
    migration transaction first takes a transaction-level advisory lock, so
    one instance migrates and the others wait, then find the schema at head
    and do nothing. (SQLite: BEGIN IMMEDIATE serialises them already.)"""
    import logging

    # alembic names each of its autogenerate plugins at INFO when it is first
    # imported: noise in center.log that says nothing about this database
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(shipped(__package__, "migrations")))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        if sqlite:
            raw.execute("PRAGMA foreign_keys=OFF")       # outside a transaction, or it does nothing
        try:
            with conn.begin():
                if engine.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATE_LOCK})")
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"migration left rows without their parent: {broken[:5]}")
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys=ON")
