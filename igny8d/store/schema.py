"""Core tables. One MetaData with a naming convention so SQLite and Postgres get the same DDL."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timestamps are stored as UTC and always come back timezone-aware.

    SQLite keeps no offset, so naive values read back are declared UTC here once.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # pragma: no cover - aiosqlite returns datetimes
            value = dt.datetime.fromisoformat(value)
        stamp: dt.datetime = value
        return stamp.replace(tzinfo=dt.UTC) if stamp.tzinfo is None else stamp.astimezone(dt.UTC)


class JSONDoc(TypeDecorator[Any]):
    """JSON that round-trips the same on both dialects."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, str) and dialect.name == "sqlite":  # pragma: no cover
            return json.loads(value)
        return value


def _id() -> Column[int]:
    return Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True)


def _fk(
    name: str, target: str, *, nullable: bool = False, ondelete: str = "CASCADE"
) -> Column[int]:
    return Column(
        name,
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey(target, ondelete=ondelete),
        nullable=nullable,
        index=True,
    )


def _timestamps() -> list[Column[dt.datetime]]:
    return [
        Column("created_at", UTCDateTime(), nullable=False),
        Column("updated_at", UTCDateTime(), nullable=False),
    ]


#: Ids that appear in tokens, URLs and references are never handed out twice: without
#: AUTOINCREMENT SQLite reuses the highest rowid after a delete. Postgres sequences never do.
_AUTOINCREMENT: dict[str, Any] = {"sqlite_autoincrement": True}


# --- reference data --------------------------------------------------------------------------

plans = Table(
    "plans",
    metadata,
    _id(),
    Column("slug", String(50), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("price_monthly", Numeric(10, 2), nullable=False),
    Column("monthly_credits", Integer, nullable=False),
    Column("max_sites", Integer, nullable=False),
    Column("max_users", Integer, nullable=False),
    Column("max_keywords", Integer, nullable=False),
    Column("max_sectors_per_site", Integer, nullable=False),
    Column("max_clusters", Integer, nullable=False),
    Column("is_active", Boolean, nullable=False, default=True),
)

industries = Table(
    "industries",
    metadata,
    _id(),
    Column("slug", String(100), nullable=False, unique=True),
    Column("name", String(150), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("is_active", Boolean, nullable=False, default=True),
)

industry_sectors = Table(
    "industry_sectors",
    metadata,
    _id(),
    _fk("industry_id", "industries.id"),
    Column("slug", String(100), nullable=False),
    Column("name", String(150), nullable=False),
    Column("description", Text, nullable=False, default=""),
    UniqueConstraint("industry_id", "slug"),
)

seed_keywords = Table(
    "seed_keywords",
    metadata,
    _id(),
    _fk("industry_id", "industries.id"),
    _fk("industry_sector_id", "industry_sectors.id"),
    Column("keyword", String(255), nullable=False),
    Column("volume", Integer, nullable=False, default=0),
    Column("difficulty", Integer, nullable=False, default=0),
    Column("intent", String(20), nullable=False),
    UniqueConstraint("industry_sector_id", "keyword"),
)

# --- tenants ---------------------------------------------------------------------------------

accounts = Table(
    "accounts",
    metadata,
    _id(),
    Column("name", String(150), nullable=False),
    Column("slug", String(160), nullable=False, unique=True),
    _fk("plan_id", "plans.id", ondelete="RESTRICT"),
    Column("credits", Integer, nullable=False, default=0),
    Column("status", String(20), nullable=False, default="active"),
    # Bumped by every write to the account's data (store/writes.py): list counts are cached
    # per version, so a page does not re-count the account's rows until something changed.
    Column("data_version", BigInteger, nullable=False, default=0, server_default=text("0")),
    *_timestamps(),
    **_AUTOINCREMENT,
)

#: What a list's cached total and ids are keyed on, besides the account's `data_version`:
#: bumped in the same transaction as every write to the account's rows of `table_name`
#: (store/writes.py). `sector_id` 0 is the whole table (lists not narrowed to one sector),
#: -1 is "some sectors" (a write whose sectors are not known: every sector's lists), any
#: other value that sector. A list narrowed to sector S reads S and -1; any other list 0.
list_versions = Table(
    "list_versions",
    metadata,
    Column("account_id", BigInteger().with_variant(Integer, "sqlite"),
           ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("table_name", String(64), primary_key=True),
    Column("sector_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=False),
    Column("version", BigInteger, nullable=False, default=0),
)
# what each version of a searched table's whole list changed, as its search sees it
# (store/versions.py `changes`): a kept search total outlives writes it cannot see
list_changes = Table(
    "list_changes", metadata,
    Column("account_id", BigInteger().with_variant(Integer, "sqlite"),
           ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("table_name", String(64), primary_key=True),
    Column("version", BigInteger, primary_key=True, autoincrement=False),
    Column("texts", Text, nullable=True),  # None: not known (every search may have changed)
    Column("created_at", UTCDateTime, nullable=False, index=True),
)

users = Table(
    "users",
    metadata,
    _id(),
    _fk("account_id", "accounts.id"),
    Column("email", String(254), nullable=False, unique=True),
    Column("username", String(150), nullable=False, unique=True),
    Column("password_hash", String(128), nullable=True),
    Column("role", String(20), nullable=False),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("is_superuser", Boolean, nullable=False, default=False),
    Column("token_version", Integer, nullable=False, default=0),
    # Random per user and in every token: a token can never name a later user that got
    # the same id (after a restore, or on a store that reuses ids).
    Column("auth_key", String(32), nullable=False),
    _fk("active_site_id", "sites.id", nullable=True, ondelete="SET NULL"),
    Column("last_login", UTCDateTime(), nullable=True),
    *_timestamps(),
    **_AUTOINCREMENT,
)

sites = Table(
    "sites",
    metadata,
    _id(),
    _fk("account_id", "accounts.id"),
    Column("name", String(150), nullable=False),
    Column("slug", String(160), nullable=False),
    Column("domain", String(255), nullable=True),
    _fk("industry_id", "industries.id", nullable=True, ondelete="SET NULL"),
    Column("description", Text, nullable=False, default=""),
    Column("is_active", Boolean, nullable=False, default=True),
    *_timestamps(),
    UniqueConstraint("account_id", "slug"),
    **_AUTOINCREMENT,
)

sectors = Table(
    "sectors",
    metadata,
    _id(),
    _fk("account_id", "accounts.id"),
    _fk("site_id", "sites.id"),
    Column("name", String(150), nullable=False),
    Column("slug", String(160), nullable=False),
    _fk("industry_sector_id", "industry_sectors.id", nullable=True, ondelete="SET NULL"),
    Column("description", Text, nullable=False, default=""),
    Column("is_active", Boolean, nullable=False, default=True),
    *_timestamps(),
    UniqueConstraint("site_id", "slug"),
    **_AUTOINCREMENT,
)

site_user_access = Table(
    "site_user_access",
    metadata,
    _id(),
    _fk("account_id", "accounts.id"),
    _fk("user_id", "users.id"),
    _fk("site_id", "sites.id"),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("user_id", "site_id"),
    **_AUTOINCREMENT,
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("jti", String(64), primary_key=True),
    _fk("user_id", "users.id"),
    # One login = one family; rotation keeps it. The session cookie names the family, so
    # revoking it (logout) ends the cookie and the refresh chain together.
    Column("family", String(64), nullable=False, index=True),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("replaced_by", String(64), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_refresh_tokens_expires_at", "expires_at"),
)

# Password-reset and invitation links: only the secret's sha256 is kept (a leaked table opens
# no account); one live link per user and purpose, spent by the first use.
auth_tokens = Table(
    "auth_tokens",
    metadata,
    _id(),
    _fk("user_id", "users.id"),
    Column("purpose", String(16), nullable=False),  # password_reset | invitation
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime(), nullable=True),
    Column("voided_at", UTCDateTime(), nullable=True),
    Column("mailed_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_auth_tokens_user_id_purpose", "user_id", "purpose"),
    **_AUTOINCREMENT,
)


# --- planner and writer: every row carries account, site and sector ----------------------------


def _site_sector() -> list[Column[int]]:
    return [_fk("account_id", "accounts.id"), _fk("site_id", "sites.id"),
            _fk("sector_id", "sectors.id")]


clusters = Table(
    "clusters",
    metadata,
    _id(),
    *_site_sector(),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("status", String(20), nullable=False, default="active"),
    *_timestamps(),
    UniqueConstraint("sector_id", "name"),
    Index("ix_clusters_account_id_created_at", "account_id", "created_at"),
    **_AUTOINCREMENT,
)

keywords = Table(
    "keywords",
    metadata,
    _id(),
    *_site_sector(),
    Column("keyword", String(255), nullable=False),
    # lower case, inner white space folded: duplicates in a sector are found on this
    Column("keyword_norm", String(255), nullable=False),
    _fk("seed_keyword_id", "seed_keywords.id", nullable=True, ondelete="SET NULL"),
    Column("volume", Integer, nullable=False, default=0),
    Column("difficulty", Integer, nullable=False, default=0),
    Column("intent", String(20), nullable=True),
    Column("status", String(20), nullable=False, default="active"),
    _fk("cluster_id", "clusters.id", nullable=True, ondelete="SET NULL"),
    # who put it in its cluster: "manual" (a user) or "auto" (clustering may move it)
    Column("cluster_source", String(10), nullable=True),
    *_timestamps(),
    UniqueConstraint("sector_id", "keyword_norm"),
    # list orderings and filters, scope columns first; an ordering's index ends in the id,
    # as every list order does (Postgres reads a page in it without sorting ties: 0014)
    Index("ix_keywords_account_id_created_at", "account_id", "created_at", "id"),
    Index("ix_keywords_account_id_volume", "account_id", "volume", "id"),
    Index("ix_keywords_account_id_difficulty", "account_id", "difficulty", "id"),
    Index("ix_keywords_account_id_status_created_at", "account_id", "status", "created_at",
          "id"),
    Index("ix_keywords_account_id_status_volume", "account_id", "status", "volume", "id"),
    Index("ix_keywords_account_id_cluster_id", "account_id", "cluster_id"),
    Index("ix_keywords_account_id_keyword_norm", "account_id", "keyword_norm"),
    **_AUTOINCREMENT,
)

content_ideas = Table(
    "content_ideas",
    metadata,
    _id(),
    *_site_sector(),
    _fk("cluster_id", "clusters.id", nullable=True, ondelete="SET NULL"),
    Column("title", String(255), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("content_type", String(30), nullable=False, default="blog_post"),
    Column("content_structure", String(30), nullable=False, default="guide"),
    Column("target_keywords", JSONDoc(), nullable=False, default=list),
    Column("outline", JSONDoc(), nullable=False, default=list),
    Column("estimated_word_count", Integer, nullable=False, default=1500),
    Column("status", String(20), nullable=False, default="new"),
    *_timestamps(),
    Index("ix_content_ideas_account_id_created_at", "account_id", "created_at"),
    **_AUTOINCREMENT,
)

tasks = Table(
    "tasks",
    metadata,
    _id(),
    *_site_sector(),
    _fk("idea_id", "content_ideas.id", nullable=True, ondelete="SET NULL"),
    _fk("cluster_id", "clusters.id", nullable=True, ondelete="SET NULL"),
    Column("title", String(255), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("keywords", JSONDoc(), nullable=False, default=list),
    # the keywords as searchable text (search never runs LIKE on a JSON column)
    Column("keywords_text", Text, nullable=False, default=""),
    Column("content_type", String(30), nullable=False, default="blog_post"),
    Column("content_structure", String(30), nullable=False, default="guide"),
    Column("status", String(20), nullable=False, default="draft"),
    *_timestamps(),
    Index("ix_tasks_account_id_created_at", "account_id", "created_at"),
    **_AUTOINCREMENT,
)

content = Table(
    "content",
    metadata,
    _id(),
    *_site_sector(),
    _fk("task_id", "tasks.id", nullable=True, ondelete="SET NULL"),
    Column("title", String(255), nullable=False),
    Column("html_content", Text, nullable=False, default=""),
    Column("word_count", Integer, nullable=False, default=0),
    Column("meta_title", String(255), nullable=False, default=""),
    Column("meta_description", String(500), nullable=False, default=""),
    Column("primary_keyword", String(255), nullable=False, default=""),
    Column("secondary_keywords", JSONDoc(), nullable=False, default=list),
    Column("content_type", String(30), nullable=False, default="blog_post"),
    Column("status", String(20), nullable=False, default="draft"),
    *_timestamps(),
    Index("ix_content_account_id_created_at", "account_id", "created_at"),
    **_AUTOINCREMENT,
)

images = Table(
    "images",
    metadata,
    _id(),
    *_site_sector(),
    _fk("content_id", "content.id", nullable=True, ondelete="CASCADE"),
    _fk("task_id", "tasks.id", nullable=True, ondelete="SET NULL"),
    Column("image_type", String(20), nullable=False),
    Column("prompt", Text, nullable=False, default=""),
    Column("status", String(20), nullable=False, default="pending"),
    Column("url", String(1000), nullable=True),
    # a locally rendered file: a random name under the data dir (never guessable)
    Column("file_name", String(100), nullable=True),
    Column("error", Text, nullable=True),
    *_timestamps(),
    Index("ix_images_account_id_created_at", "account_id", "created_at"),
    **_AUTOINCREMENT,
)

# --- background jobs (igny8d/jobs/) ------------------------------------------------------------

#: A job is a row: the executor's workers claim PENDING rows atomically, hold a lease while
#: running (renewed; an expired one is reaped), and write progress, result or error here.
#: `task_id` (a uuid4) is the public name; `id` only orders claims and never leaves the store.
jobs = Table(
    "jobs",
    metadata,
    _id(),
    Column("task_id", String(36), nullable=False, unique=True),
    Column("account_id", BigInteger().with_variant(Integer, "sqlite"),
           ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", BigInteger().with_variant(Integer, "sqlite"),
           ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("kind", String(64), nullable=False),
    Column("payload", JSONDoc(), nullable=False, default=dict),
    # PENDING | PROGRESS | SUCCESS | FAILURE | REVOKED
    Column("state", String(10), nullable=False),
    # phase, percentage, message, request_steps, response_steps, cost, tokens
    Column("meta", JSONDoc(), nullable=False, default=dict),
    Column("result", JSONDoc(), nullable=True),
    Column("error", Text, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False),
    Column("lease_owner", String(100), nullable=True),
    Column("lease_expires_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime(), nullable=True),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    # claiming (oldest PENDING first), reaping (expired PROGRESS leases), purging, by account
    Index("ix_jobs_state_created_at", "state", "created_at"),
    Index("ix_jobs_state_lease_expires_at", "state", "lease_expires_at"),
    Index("ix_jobs_state_finished_at", "state", "finished_at"),
    Index("ix_jobs_account_id_created_at", "account_id", "created_at"),
    Index("ix_jobs_user_id", "user_id"),
    **_AUTOINCREMENT,
)

# --- billing (igny8d/services/billing.py) -----------------------------------------------------

#: The ledger: every change of an account's credits is one row here, with the balance it left.
#: `amount` is signed (charges negative); the sum of an account's amounts is its balance minus
#: the balance it started with.
credit_transactions = Table(
    "credit_transactions",
    metadata,
    _id(),
    Column("account_id", BigInteger().with_variant(Integer, "sqlite"),
           ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", BigInteger().with_variant(Integer, "sqlite"),
           ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    # charge | refund | grant | monthly_grant | adjustment
    Column("transaction_type", String(20), nullable=False),
    Column("amount", Integer, nullable=False),
    Column("balance_after", Integer, nullable=False),
    Column("description", Text, nullable=False, default=""),
    # what it is for: a job's task_id, a usage row (refunds), a grant's period
    Column("reference", String(100), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_credit_transactions_account_id_created_at", "account_id", "created_at"),
    Index("ix_credit_transactions_account_id_transaction_type_created_at",
          "account_id", "transaction_type", "created_at"),
    Index("ix_credit_transactions_account_id_reference", "account_id", "reference"),
    Index("ix_credit_transactions_user_id", "user_id"),
    **_AUTOINCREMENT,
)

#: What each charge paid for. A refund does not delete the row: it raises `credits_refunded`
#: (never above `credits_used`), so net usage is `credits_used - credits_refunded`.
credit_usage = Table(
    "credit_usage",
    metadata,
    _id(),
    Column("account_id", BigInteger().with_variant(Integer, "sqlite"),
           ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", BigInteger().with_variant(Integer, "sqlite"),
           ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("transaction_id", BigInteger().with_variant(Integer, "sqlite"),
           ForeignKey("credit_transactions.id", ondelete="CASCADE"), nullable=False),
    # clustering | ideas | content | image_prompts | images
    Column("operation_type", String(30), nullable=False),
    Column("credits_used", Integer, nullable=False),
    Column("credits_refunded", Integer, nullable=False, default=0),
    Column("units", Integer, nullable=False, default=0),
    Column("cost", Float, nullable=True),
    Column("tokens", Integer, nullable=True),
    Column("description", Text, nullable=False, default=""),
    Column("reference", String(100), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_credit_usage_account_id_created_at", "account_id", "created_at"),
    Index("ix_credit_usage_account_id_operation_type_created_at",
          "account_id", "operation_type", "created_at"),
    Index("ix_credit_usage_account_id_reference", "account_id", "reference"),
    Index("ix_credit_usage_transaction_id", "transaction_id"),
    Index("ix_credit_usage_user_id", "user_id"),
    **_AUTOINCREMENT,
)

# --- the account's AI settings (services/prompts.py, services/integrations.py) -----------------

#: Prompts an account saved, one per type; a type with no row uses the shipped default
#: (igny8d/ai/prompts.py), and "reset" deletes the row.
ai_prompts = Table(
    "ai_prompts",
    metadata,
    _id(),
    _fk("account_id", "accounts.id"),
    # clustering | ideas | content_generation | image_prompt_extraction |
    # image_prompt_template | negative_prompt
    Column("prompt_type", String(50), nullable=False),
    Column("prompt_value", Text, nullable=False),
    *_timestamps(),
    UniqueConstraint("account_id", "prompt_type"),
    **_AUTOINCREMENT,
)

#: An account's settings of one integration (`openai`, `runware`, `image_generation`):
#: `config` holds what may be shown (base_url, model, image_model, timeout_s, ...), the API key
#: is only ever stored encrypted (`api_key_encrypted`, a key derived from the server secret).
integration_settings = Table(
    "integration_settings",
    metadata,
    _id(),
    _fk("account_id", "accounts.id"),
    Column("integration_id", String(50), nullable=False),
    Column("enabled", Boolean, nullable=False, default=False),
    Column("config", JSONDoc(), nullable=False, default=dict),
    Column("api_key_encrypted", Text, nullable=True),
    *_timestamps(),
    UniqueConstraint("account_id", "integration_id"),
    **_AUTOINCREMENT,
)

# --- operations (services/admin.py) -------------------------------------------------------------

#: Every action taken through the admin API: who, what, on what, when, before and after.
#: Kept when the actor or the target is deleted (no foreign keys: it is a record, not a link).
admin_audit = Table(
    "admin_audit",
    metadata,
    _id(),
    Column("actor_user_id", BigInteger().with_variant(Integer, "sqlite"), nullable=True),
    Column("actor_email", String(254), nullable=False, default=""),
    # e.g. account.grant_credits, account.change_plan, account.suspend, user.deactivate,
    # user.end_sessions, job.cancel, job.retry
    Column("action", String(64), nullable=False),
    Column("target_type", String(32), nullable=False),
    Column("target_id", String(64), nullable=False),
    Column("account_id", BigInteger().with_variant(Integer, "sqlite"), nullable=True),
    Column("before", JSONDoc(), nullable=True),
    Column("after", JSONDoc(), nullable=True),
    Column("reason", Text, nullable=False, default=""),
    Column("request_id", String(64), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_admin_audit_created_at", "created_at"),
    Index("ix_admin_audit_account_id_created_at", "account_id", "created_at"),
    Index("ix_admin_audit_target_type_target_id", "target_type", "target_id"),
    **_AUTOINCREMENT,
)

#: A client's `Idempotency-Key` with the first answer it got (services/idempotency.py): written
#: in the same transaction as the charge/job or the created row, so neither exists without the
#: other. One per (account, user, key); `fingerprint` is a hash of method, path and body.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    _id(),
    _fk("account_id", "accounts.id"),
    Column("user_id", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("key", String(255), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("status", Integer, nullable=True),
    Column("response", JSONDoc(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    UniqueConstraint("account_id", "user_id", "key"),
    Index("ix_idempotency_keys_expires_at", "expires_at"),
    **_AUTOINCREMENT,
)

#: Names of database objects made by raw SQL in migrations (search indexes), not by metadata.
OUTSIDE_METADATA = ("keywords_fts", "ix_keywords_keyword_norm_trgm")

#: Tables holding shipped reference data (kept when tests wipe tenant data).
REFERENCE_TABLES = frozenset({"plans", "industries", "industry_sectors", "seed_keywords"})
