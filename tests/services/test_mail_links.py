"""Mail and link rules below HTTP: what a message carries, what a refused or absent SMTP
server does, how links are built and how long they last."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from igny8d import mail
from igny8d.services import auth_links
from igny8d.settings import Settings
from tests.helpers.smtp import Inbox, start_smtp


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    controller, inbox = start_smtp()
    yield controller.port, inbox
    controller.stop()


async def test_send_delivers_one_plain_text_message(smtp):
    port, inbox = smtp
    settings = Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
                        smtp_from="from@igny8.test")
    assert await mail.send(settings, to="ann@example.com", subject="Hi", body="Hello, Ann\n")
    [message] = await inbox.wait(1)
    assert (message["From"], message["To"], message["Subject"]) == \
        ("from@igny8.test", "ann@example.com", "Hi")
    assert message.get_payload(decode=True).strip() == b"Hello, Ann"


async def test_unconfigured_or_unreachable_smtp_sends_nothing_and_raises_nothing(smtp, caplog):
    port, _ = smtp
    assert not await mail.send(Settings(), to="a@example.com", subject="s", body="b")
    # STARTTLS asked of a server that offers none: refused, logged, not raised
    refusing = Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=True)
    assert not await mail.send(refusing, to="a@example.com", subject="s", body="b")
    assert "not sent" in caplog.text


def test_links_use_public_url_else_host_and_port():
    assert auth_links.link_for(Settings(public_url="https://x.test/"), auth_links.RESET,
                               "abc") == "https://x.test/reset-password?token=abc"
    assert auth_links.link_for(Settings(host="10.0.0.5", port=9000), auth_links.INVITATION,
                               "abc") == "http://10.0.0.5:9000/accept-invitation?token=abc"


def test_lifetimes_follow_the_settings():
    settings = Settings(reset_token_minutes=30, invite_token_days=2)
    assert auth_links._ttl(settings, auth_links.RESET) == dt.timedelta(minutes=30)
    assert auth_links._ttl(settings, auth_links.INVITATION) == dt.timedelta(days=2)
    assert auth_links._ttl_text(dt.timedelta(days=2)) == "2 day(s)"
    assert auth_links._ttl_text(dt.timedelta(minutes=30)) == "30 minutes"
