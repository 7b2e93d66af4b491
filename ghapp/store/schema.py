"""The tables of ghapp's system of record.

Redis only carries queues, caches and locks; everything ghapp must not lose
lives here: the pod's task logs (with ghapp's notices), the workstream
projection and PR mapping, the webhook inbox and the notice outbox.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

tasks = Table(
    "tasks",
    metadata,
    Column("task_id", String(128), primary_key=True),
    Column("title", Text, nullable=False, default=""),
    Column("phase", String(64), nullable=False, default="planning"),
    Column("version", Integer, nullable=False, default=0),
    Column("synced_version", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# One log per task: the pod's events and ghapp's notices, in version order.
task_events = Table(
    "task_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("task_id", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("kind", String(16), nullable=False),  # "pod" or "notice"
    Column("type", String(64), nullable=False),
    Column("data", JSON, nullable=False),
    Column("actor_id", String(128), nullable=True),
    Column("notice_key", String(255), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("task_id", "version", name="uq_task_events_task_version"),
    UniqueConstraint("task_id", "notice_key", name="uq_task_events_task_notice_key"),
)

workstreams = Table(
    "workstreams",
    metadata,
    Column("task_id", String(128), primary_key=True),
    Column("workstream_id", String(128), primary_key=True),
    Column("repo", String(255), nullable=False),
    Column("base", String(255), nullable=False),
    Column("head_branch", String(255), nullable=False),
    Column("status", String(32), nullable=False, default="pending"),
    Column("pr_number", Integer, nullable=True),
    Column("pr_node_id", String(128), nullable=True),
    Column("pr_url", String(512), nullable=True),
    Column("pr_state", String(16), nullable=True),
    Column("head_sha", String(64), nullable=True),
    Column("approval", String(32), nullable=True),
    Column("checks", String(16), nullable=True),
    Column("observed", JSON, nullable=False, default=dict),
    Column("last_error", Text, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_workstreams_repo_pr", "repo", "pr_number"),
    Index("ix_workstreams_repo_head", "repo", "head_branch"),
)

inbox = Table(
    "inbox",
    metadata,
    Column("guid", String(64), primary_key=True),
    Column("event", String(64), nullable=False),
    Column("action", String(64), nullable=True),
    Column("installation_id", BigInteger, nullable=True),
    Column("body", LargeBinary, nullable=False),
    # How ``body`` holds the delivery's bytes: "zstd" (compressed by the webhook view) or "identity".
    Column("body_encoding", String(16), nullable=False, server_default="identity"),
    Column("status", String(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("error", Text, nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=True),
    Index("ix_inbox_status_received", "status", "received_at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("notice_id", String(64), nullable=False, unique=True),
    Column("task_id", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("type", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("next_attempt_at", Float, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Index("ix_outbox_status", "status", "id"),
)

installations = Table(
    "installations",
    metadata,
    Column("installation_id", BigInteger, primary_key=True, autoincrement=False),
    Column("account", String(255), nullable=False, default=""),
    Column("status", String(16), nullable=False, default="active"),  # active, suspended, deleted
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

installation_repos = Table(
    "installation_repos",
    metadata,
    Column("repo", String(255), primary_key=True),
    Column("installation_id", BigInteger, nullable=False),
    Column("accessible", Boolean, nullable=False, default=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Small durable facts: the sweep interval and its reason, the redelivery cursor.
app_state = Table(
    "app_state",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
