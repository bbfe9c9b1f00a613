"""Accounts: scrypt hashes, the users CLI, and sign-in with per-user isolation in the real page."""


import pytest
from click.testing import CliRunner
from conftest import free_port

from app.accounts import add_user, authenticate, check_password, hash_password
from app.cli import main
from app.core.errors import KeepsakeError
from app.core.settings import load_settings
from app.server import serve
from app.service import ChatService
from memory.store import Store


def test_hashes_are_salted_and_checked_in_constant_time() -> None:
    a, b = hash_password("correct horse"), hash_password("correct horse")
    assert a != b and a.startswith("scrypt$16384$8$1$")
    assert check_password("correct horse", a) and not check_password("wrong horse", a)
    assert not check_password("anything", None) and not check_password("x", "md5$abc")


def test_add_and_authenticate(store: Store) -> None:
    uid = add_user(store, "ann", "s3cret-pass", admin=True)
    assert authenticate(store, "ann", "s3cret-pass") == uid
    assert authenticate(store, "ann", "wrong-pass") is None
    assert authenticate(store, "nobody", "s3cret-pass") is None
    assert authenticate(store, "local", "") is None  # the local user has no password: no remote sign-in
    with pytest.raises(KeepsakeError, match="at least 8"):
        add_user(store, "bob", "short")
    with pytest.raises(KeepsakeError, match="invalid user name"):
        add_user(store, "a/b", "long enough")


def test_users_cli() -> None:
    result = CliRunner().invoke(main, ["users", "add", "ann", "--admin", "--password", "s3cret-pass"])
    assert result.exit_code == 0 and "as an administrator" in result.stdout
    listed = CliRunner().invoke(main, ["users", "list"]).stdout
    assert "ann  [admin]" in listed


def test_sign_in_is_forced_off_loopback() -> None:
    assert not load_settings().needs_auth
    assert load_settings(auth=True).needs_auth and load_settings(host="0.0.0.0").needs_auth



@pytest.mark.browser
def test_two_users_cannot_see_each_other(browser, settings, tmp_path) -> None:  # noqa: ANN001
    from app.core.backends import EchoBackend

    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    add_user(store, "ann", "ann-password")
    add_user(store, "bob", "bob-password")
    s = settings.model_copy(update={"port": free_port(), "auth": True, "memory": False, "safety": False})
    demo = serve(ChatService(s, backend=EchoBackend(), store=store), block=False)
    try:
        def sign_in(name: str):  # noqa: ANN202
            context = browser.new_context()
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{s.port}/")
            page.locator("input[type=text], input[name=username]").first.fill(name)
            page.locator("input[type=password]").first.fill(f"{name}-password")
            page.keyboard.press("Enter")
            page.locator("#message textarea").wait_for(timeout=30_000)
            return page

        ann = sign_in("ann")
        ann.wait_for_function("() => document.querySelector('#whoami').innerText.includes('ann')", timeout=30_000)
        ann.locator("#message textarea").fill("ann's private secret")
        ann.locator("#send").click()
        ann.get_by_text("echo: ann's private secret").wait_for(timeout=30_000)
        ann_id = store.user_id("ann", create=False)
        assert [c.title for c in store.list_conversations(ann_id)] == ["ann's private secret"]

        bob = sign_in("bob")
        bob.locator("#conversations").click()
        bob.wait_for_timeout(500)
        assert "private secret" not in bob.content()
        assert store.list_conversations(store.user_id("bob", create=False)) == []

        wrong = browser.new_context().new_page()
        wrong.goto(f"http://127.0.0.1:{s.port}/")
        wrong.locator("input[type=text], input[name=username]").first.fill("ann")
        wrong.locator("input[type=password]").first.fill("not-her-password")
        wrong.keyboard.press("Enter")
        wrong.wait_for_timeout(1500)
        assert wrong.locator("#message textarea").count() == 0
    finally:
        demo.close()
