"""The web page's admin tab: what the safety filter acted on, verdicts over time, and user accounts.

Only administrators see the tab, and every handler checks again on the server: hiding a tab is
presentation, not access control.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr
import pandas as pd

from app.accounts import add_user, list_users
from app.core.errors import KeepsakeError
from app.service import ChatService
from safety.filter import FAILURE, failure_summary
from safety.policy import CATEGORIES

# What the filter changed or failed at; "passed" and "kept" replies are shown as the model wrote them.
ACTIONS = ("repaired", "blocked", "supported", FAILURE)
DAYS = 30
COLUMNS = ["message", "when", "user", "conversation", "category", "action", "reward", "reply class", "reply"]


class NotAdmin(KeepsakeError):
    pass


def require_admin(service: ChatService, user_id: int) -> None:
    if not service.store.is_admin(user_id):
        raise NotAdmin("only administrators can see moderation and accounts")


def flagged_rows(service: ChatService, user_id: int, actions: list[str], category: str | None = None,
                 user: str = "", limit: int = 200) -> list[list[Any]]:
    """Replies the filter acted on, newest first, filtered by action, category and user name."""
    require_admin(service, user_id)
    rows = service.store.flagged(tuple(actions or ACTIONS), category or None, limit, user.strip() or None)
    return [[r["message_id"], r["created_at"][:16].replace("T", " "), r["user"], r["conversation"], r["category"],
             r["action"], r["reward"], r["reply_class"], r["reply"]] for r in rows]


def failures(service: ChatService, user_id: int, days: int = DAYS) -> str:
    """How often a safe request was answered with a refusal: the filter's own failure rate."""
    require_admin(service, user_id)
    return failure_summary(service.store.verdict_counts(days), days)


def verdict_frame(service: ChatService, user_id: int, days: int = DAYS) -> pd.DataFrame:
    """Replies judged per day and action, for the chart."""
    require_admin(service, user_id)
    return pd.DataFrame(service.store.verdict_counts(days), columns=["day", "action", "replies"])


def user_rows(service: ChatService, user_id: int) -> list[list[Any]]:
    require_admin(service, user_id)
    return [[uid, name, "yes" if admin else "", "yes" if has_password else "no"]
            for uid, name, admin, has_password in list_users(service.store)]


def create_user(service: ChatService, user_id: int, name: str, password: str, admin: bool) -> str:
    require_admin(service, user_id)
    add_user(service.store, name, password, admin=admin)
    return f"User **{name.strip()}** can now sign in{' as an administrator' if admin else ''}."


def admin_tab(service: ChatService, me: Callable[[gr.Request], int]) -> tuple[Callable[[int], list], list]:
    """Lay out the tab inside the current Blocks; returns a loader of an admin's first view, and its outputs."""
    with gr.Row():
        actions = gr.CheckboxGroup(list(ACTIONS), value=list(ACTIONS), label="Action", elem_id="mod-actions")
        category = gr.Dropdown([("any", "")] + [(c, c) for c in CATEGORIES], value="", label="Category",
                               elem_id="mod-category")
        who = gr.Textbox(label="User", placeholder="any", elem_id="mod-user")
        refresh = gr.Button("Refresh", elem_id="mod-refresh")
    failed = gr.Markdown("", elem_id="mod-failures")
    chart = gr.BarPlot(x="day", y="replies", color="action", title="Verdicts per day (last 30 days)",
                       elem_id="mod-chart", height=240)
    table = gr.Dataframe(headers=COLUMNS, interactive=False, wrap=True, elem_id="mod-table")
    gr.Markdown("### Accounts")
    users = gr.Dataframe(headers=["id", "name", "admin", "password set"], interactive=False, elem_id="users-table")
    with gr.Row():
        name = gr.Textbox(label="New user", elem_id="new-user-name")
        password = gr.Textbox(label="Password (8+ characters)", type="password", elem_id="new-user-password")
        admin = gr.Checkbox(label="Administrator", elem_id="new-user-admin")
        add = gr.Button("Add user", elem_id="add-user")
    status = gr.Markdown("", elem_id="users-status")

    def load(actions_: list[str], category_: str, who_: str, request: gr.Request):  # type: ignore[no-untyped-def]
        uid = me(request)
        try:
            return (flagged_rows(service, uid, actions_, category_, who_), failures(service, uid),
                    verdict_frame(service, uid), user_rows(service, uid))
        except KeepsakeError as exc:
            raise gr.Error(str(exc)) from None

    def on_add(name_: str, password_: str, admin_: bool, request: gr.Request):  # type: ignore[no-untyped-def]
        uid = me(request)
        try:
            line = create_user(service, uid, name_, password_, admin_)
        except KeepsakeError as exc:
            return f"⚠️ {exc}", gr.skip(), gr.skip()
        return line, "", user_rows(service, uid)

    filters = [actions, category, who]
    for trigger in (refresh.click, actions.change, category.change, who.submit):
        trigger(load, filters, [table, failed, chart, users])
    add.click(on_add, [name, password, admin], [status, password, users])

    def initial(uid: int) -> list:
        return [flagged_rows(service, uid, list(ACTIONS)), failures(service, uid), verdict_frame(service, uid),
                user_rows(service, uid)]

    return initial, [table, failed, chart, users]
