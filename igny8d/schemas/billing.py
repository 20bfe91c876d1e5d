"""Output schemas of the billing module (read-only: nothing here is a request body)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel


class BalanceOut(BaseModel):
    credits: int
    plan_credits_per_month: int
    credits_used_this_month: int
    credits_remaining: int


class UsageOut(BaseModel):
    id: int
    operation_type: str
    credits_used: int
    credits_refunded: int
    units: int
    cost: float | None
    tokens: int | None
    description: str
    reference: str | None
    transaction_id: int
    user_id: int | None
    created_at: dt.datetime


class TransactionOut(BaseModel):
    id: int
    transaction_type: str
    amount: int
    balance_after: int
    description: str
    reference: str | None
    user_id: int | None
    created_at: dt.datetime


class OperationTotals(BaseModel):
    count: int
    units: int
    credits_charged: int
    credits_refunded: int
    credits_used: int


class UsageSummaryOut(BaseModel):
    start_date: dt.date
    end_date: dt.date
    total_operations: int
    total_credits_used: int
    by_operation_type: dict[str, OperationTotals]


class LimitOut(BaseModel):
    limit: int
    used: int
    remaining: int


class UsageLimitsOut(BaseModel):
    plan: str
    plan_name: str
    sites: LimitOut
    users: LimitOut
    keywords: LimitOut
    clusters: LimitOut
    max_sectors_per_site: int
    credits: LimitOut
