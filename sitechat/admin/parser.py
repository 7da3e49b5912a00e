"""The arguments of `sitechat admin ...` (kept light: parsing imports no database code)."""

from __future__ import annotations

import uuid
from typing import Any

from sitechat.billing.plans import BILLING_INTERVALS


def add_admin_parser(commands: Any) -> None:
    admin = commands.add_parser(
        "admin", help="operator commands: users, workspaces, plans, API keys, unlocks"
    )
    actions = admin.add_subparsers(dest="admin_command", required=True)
    user = actions.add_parser("create-user", help="create a user and their personal workspace")
    user.add_argument("email")
    user.add_argument("--name", default=None, help="full name (default: the email's local part)")
    user.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from stdin (default: generate one and print it once)",
    )
    listing = actions.add_parser("list-workspaces", help="every workspace with its plan")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    plan = actions.add_parser("set-plan", help="put a workspace on a plan")
    plan.add_argument("workspace_id", type=uuid.UUID)
    plan.add_argument("plan_id")
    plan.add_argument("--interval", choices=BILLING_INTERVALS, default="month")
    plan.add_argument(
        "--billing",
        action="store_true",
        help="subscribe through billing (charges the workspace's default card now); "
        "default: grant the plan without invoices",
    )
    key = actions.add_parser("create-api-key", help="create an API key for a workspace")
    key.add_argument("workspace_id", type=uuid.UUID)
    key.add_argument("--name", default="operator")
    key.add_argument("--role", choices=("member", "admin", "owner"), default="member")
    unlock = actions.add_parser("unlock", help="lift a login lockout of an account")
    unlock.add_argument("email")
