"""Users and accounts: resources of the auth module (rules in services/users, accounts)."""

from __future__ import annotations

from igny8d.handlers.base import parse_id
from igny8d.handlers.resource import Action, Filter, Resource, ResourceHandler
from igny8d.permissions import ROLES
from igny8d.schemas import auth as m
from igny8d.services import auth_links
from igny8d.services.accounts import ACCOUNTS as ACCOUNT_SERVICE
from igny8d.services.users import USERS as USER_SERVICE

TAG = "auth"


async def invite_user(h: ResourceHandler) -> None:
    body: m.InviteBody = h.parse(m.InviteBody)
    async with h.ctx.store.begin() as conn:
        row = await USER_SERVICE.invite(conn, h.actor, body.model_dump())
        issued = await auth_links.issue(conn, h.ctx.settings, user_id=row["id"],
                                        email=row["email"], purpose=auth_links.INVITATION)
        data = await USER_SERVICE.present_one(conn, h.actor, row)
    auth_links.deliver_later(h.ctx, issued)
    h.created(data, "User invited")


async def resend_invitation(h: ResourceHandler, id: str) -> None:
    async with h.ctx.store.begin() as conn:
        row = await USER_SERVICE.invited(conn, h.actor, parse_id(id))
        issued = await auth_links.issue(conn, h.ctx.settings, user_id=row["id"],
                                        email=row["email"], purpose=auth_links.INVITATION)
        data = await USER_SERVICE.present_one(conn, h.actor, row)
    auth_links.deliver_later(h.ctx, issued)
    h.ok(data, "Invitation sent again")


async def activate_user(h: ResourceHandler, id: str) -> None:
    body: m.ActivateBody = h.parse(m.ActivateBody)
    password_hash = await h.ctx.hasher.hash(body.password) if body.password else None
    async with h.ctx.store.begin() as conn:
        row = await USER_SERVICE.activate(conn, h.actor, parse_id(id), password_hash)
        data = await USER_SERVICE.present_one(conn, h.actor, row)
    h.ok(data, "User activated")


USERS = Resource(
    name="users", prefix="/api/v1/auth/users/", service=USER_SERVICE, output=m.UserOut,
    create_body=m.UserCreateBody, update_body=m.UserUpdateBody,
    filters={"role": Filter("role", "choice", ROLES), "is_active": Filter("is_active", "bool")},
    search_fields=("email", "username"),
    ordering={"email": "email", "username": "username", "role": "role",
              "created_at": "created_at", "last_login": "last_login"},
    read_level="admin", write_level="admin", tag=TAG,
    actions=[
        Action("invite", invite_user, level="admin", body=m.InviteBody, response=m.UserOut,
               status=201, summary="Invite a user: inactive until they accept the emailed "
               "link (auth/invitations/accept/) or an admin activates them",
               errors=(409,)),
        Action("resend_invitation", resend_invitation, detail=True, level="admin",
               response=m.UserOut, summary="Send a new invitation link (the earlier one "
               "stops working)", errors=(409,)),
        Action("activate", activate_user, detail=True, level="admin", body=m.ActivateBody,
               response=m.UserOut, summary="Activate a user, optionally setting a password"),
    ],
)

ACCOUNTS = Resource(
    name="accounts", prefix="/api/v1/auth/accounts/", service=ACCOUNT_SERVICE,
    output=m.AccountOut, create_body=m.AccountCreateBody, update_body=m.AccountUpdateBody,
    filters={"status": Filter("status", "choice", ("active", "suspended"))},
    search_fields=("name", "slug"),
    ordering={"name": "name", "created_at": "created_at", "credits": "credits"},
    # Creating a tenant from inside a tenant makes no sense: only operators create accounts.
    read_level="admin", write_level="admin", create_level="superuser", tag=TAG,
)

RESOURCES = [USERS, ACCOUNTS]

# The classes the resource layer generates, by name (grep finds them here).
UsersInviteHandler = USERS.handler("UsersInviteHandler")
UsersActivateHandler = USERS.handler("UsersActivateHandler")
UsersResendInvitationHandler = USERS.handler("UsersResendInvitationHandler")
UsersListHandler = USERS.handler("UsersListHandler")
UsersDetailHandler = USERS.handler("UsersDetailHandler")
AccountsListHandler = ACCOUNTS.handler("AccountsListHandler")
AccountsDetailHandler = ACCOUNTS.handler("AccountsDetailHandler")

default_handlers = [
    *USERS.routes(UsersInviteHandler, UsersActivateHandler, UsersResendInvitationHandler,
                  UsersListHandler, UsersDetailHandler),
    *ACCOUNTS.routes(AccountsListHandler, AccountsDetailHandler),
]
