"""The moderator page in a real browser (Debian's chromium via Playwright) against serve.py.

What a moderator does, end to end: log in, claim, see the words that drove the score
highlighted, reject with a reason, and the audit log (read through the API) records it. And
what an attacker tries: a comment full of ``<script>`` and ``<img onerror>`` must show up as
text and run nothing. Skips when chromium is missing, except under CI=true.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import live_server
import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTICLE = "ui-article"
TITLE = "Sejm przyjął ustawę <i>o mediach</i>"
TOXIC = "Ty debilu, jesteś skończonym idiotą i kretynem, zamknij ryj!"
XSS = (
    'Zamknij się, idioto <script>window.__xss = "script"</script>'
    "<img src=x onerror=\"window.__xss = 'img'\"> debilu <b>bold</b> &amp; 🙂 kretynie"
)


def _playwright() -> Any:
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        message = f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true: the playwright package is missing")
        pytest.skip("needs the playwright package")
    return sync_playwright


@dataclass
class Site:
    server: live_server.ServerProcess
    moderator: str
    password: str
    admin_token: str
    key: str
    admin_password: str


@pytest.fixture(scope="module")
def site(tiny_bundle_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """serve.py on a SQLite file with a moderator, an admin, an API key and queued comments."""
    workdir = tmp_path_factory.mktemp("ui")
    database = live_server.sqlite_url(workdir / "ui.db")
    server = live_server.ServerProcess(database, tiny_bundle_dir, workdir)
    with server:
        with ThreadPoolExecutor(max_workers=3) as pool:  # independent CLI calls, side by side
            calls = [
                pool.submit(live_server.create_moderator, database, "ola", "moderator"),
                pool.submit(live_server.create_moderator, database, "szef", "admin"),
                pool.submit(live_server.create_api_key, database, "ui-test", "score,submit,read"),
            ]
            password, admin_password, key = (call.result() for call in calls)
        admin = live_server.login(server.url, "szef", admin_password)
        with httpx.Client(base_url=server.url, timeout=30) as client:
            # Pre-moderate the article so every comment is queued whatever the tiny model says.
            put = client.put(
                f"/v1/articles/{ARTICLE}",
                json={"title": TITLE},
                headers=live_server.bearer(key),
            )
            assert put.status_code == 200, put.text
            policy = client.put(
                f"/v1/articles/{ARTICLE}/policy",
                json={"premoderate": True},
                headers=live_server.bearer(admin),
            )
            assert policy.status_code == 200, policy.text
            comments = [
                live_server.comment(comment_id, text, article=ARTICLE, author=author, title=TITLE)
                for comment_id, text, author in (
                    ("ui-toxic", TOXIC, "reader-1"),
                    ("ui-xss", XSS, "reader-2"),
                    ("ui-calm", "Dobry tekst, dziękuję.", "reader-3"),
                )
            ]
            submitted = client.post(
                "/v1/comments", json={"comments": comments}, headers=live_server.bearer(key)
            )
            assert submitted.status_code == 201, submitted.text
            assert {r["status"] for r in submitted.json()["results"]} == {"held"}
        yield Site(server, "ola", password, admin, key, admin_password)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_playwright = _playwright()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    """A fresh browser context (no cookies) that fails the test on any script error or dialog."""
    context = browser.new_context(base_url=site.server.url)
    opened = context.new_page()
    problems: list[str] = []

    def on_dialog(dialog: Any) -> None:  # alert() from an injected script would land here
        problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    def on_console(message: Any) -> None:  # a CSP violation means something tried to run
        if message.type == "error" and "Content Security Policy" in message.text:
            problems.append(f"console: {message.text}")

    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    opened.on("dialog", on_dialog)
    opened.on("console", on_console)
    yield opened
    context.close()
    assert not problems, problems


def log_in(page: Any, site: Site, username: str = "", password: str = "") -> None:
    username, password = username or site.moderator, password or site.password
    page.goto("/ui")
    page.wait_for_url(re.compile(r"/ui/login$"))
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_url(re.compile(r"/ui/?$"))
    page.wait_for_selector(f"#whoami:has-text('{username}')")


def claim(page: Any, count: int) -> None:
    page.fill("#filters input[name=article_id]", ARTICLE)
    page.select_option("#filters select[name=order]", "oldest")
    page.fill("#filters input[name=count]", str(count))
    page.click("#claim")
    page.wait_for_selector("article.claimed")


def card(page: Any, comment_id: str) -> Any:
    return page.locator(f"article.claimed[data-id='{comment_id}']")


def test_log_in_claim_highlight_reject_and_audit(page: Any, site: Site) -> None:
    log_in(page, site)

    # The session token is in an HttpOnly cookie scripts cannot read.
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    session = cookies["moderation_session"]
    assert session["httpOnly"] is True and session["sameSite"] == "Strict"
    assert "moderation_session" not in page.evaluate("document.cookie")
    # Without the CSRF header the cookie is refused by the API; with it, accepted.
    status = page.evaluate("fetch('/v1/queue').then(r => r.status)")
    assert status in (401, 403)

    # Queue depth in the header: the pre-moderated article holds all three comments.
    page.wait_for_selector("#depth [data-status=held]:has-text('held: 3')")
    claim(page, 3)
    toxic = card(page, "ui-toxic")
    toxic.wait_for()

    stored = httpx.get(
        f"{site.server.url}/v1/comments/ui-toxic", headers=live_server.bearer(site.key)
    ).json()
    text = toxic.locator(".comment-text")
    assert text.text_content() == TOXIC
    spans = [
        span
        for attribute in stored["flagged"]
        for span in stored["result"]["spans"].get(attribute, [])
    ]
    assert spans, f"the tiny model gave no span for {TOXIC!r}: {stored}"
    marked = text.locator("mark.span").all_text_contents()
    assert marked, "no highlighted span"
    assert any(span["text"] in "".join(marked) for span in spans), (marked, spans)
    # Scores per attribute, flagged ones marked; the rule that queued it; the lease clock.
    for attribute in stored["scores"]:
        assert toxic.locator(f".scores .name[data-attribute='{attribute}']").count() == 1
    for attribute in stored["flagged"]:
        assert "flag" in (
            toxic.locator(f".scores .name[data-attribute='{attribute}']").get_attribute("class")
            or ""
        )
    assert "premoderate" in toxic.locator(".meta").text_content()
    assert re.fullmatch(r"\d+:\d\d", toxic.locator(".lease").text_content() or "")
    # The article's title is shown, as text (its <i> is not markup).
    page.wait_for_selector("article.claimed[data-id='ui-toxic'] .title:has-text('Sejm przyjął')")
    title = toxic.locator(".title")
    assert title.text_content() == TITLE
    assert title.locator("i").count() == 0

    # Reject with a reason and a note.
    toxic.locator("select.reason").select_option("insult")
    toxic.locator("textarea.note").fill("wyzwiska")
    toxic.locator("button.reject").click()
    toxic.wait_for(state="detached")

    # The author's history of the next card and keyboard shortcuts: j, a (approve).
    calm = card(page, "ui-calm")
    calm.locator(".ident").click()
    page.keyboard.press("a")
    calm.wait_for(state="detached")

    audit = httpx.get(
        f"{site.server.url}/v1/audit",
        params={"comment_id": "ui-toxic"},
        headers=live_server.bearer(site.admin_token),
    ).json()["items"]
    rejected = [entry for entry in audit if entry["action"] == "reject"]
    assert len(rejected) == 1, audit
    assert rejected[0]["actor"] == "ola"
    assert rejected[0]["actor_kind"] == "moderator"
    assert rejected[0]["reason"] == "insult"
    assert rejected[0]["note"] == "wyzwiska"
    assert rejected[0]["to_status"] == "rejected"
    approved = httpx.get(
        f"{site.server.url}/v1/comments/ui-calm", headers=live_server.bearer(site.key)
    ).json()
    assert approved["status"] == "approved" and approved["decided_by"] == "ola"

    # Give the hostile comment back (u) for the next test.
    hostile = card(page, "ui-xss")
    hostile.locator(".ident").click()
    page.keyboard.press("u")
    hostile.wait_for(state="detached")


def test_hostile_comment_is_shown_as_text_and_runs_nothing(page: Any, site: Site) -> None:
    log_in(page, site)
    claim(page, 3)
    hostile = card(page, "ui-xss")
    hostile.wait_for()
    text = hostile.locator(".comment-text")
    assert text.text_content() == XSS
    assert text.locator("script, img, b").count() == 0
    assert page.locator("img").count() == 0
    assert page.evaluate("window.__xss") is None
    # The queue list shows it as text too.
    page.click("#refresh")
    row = page.locator("#queue-table tr[data-id='ui-xss'] td.text")
    row.wait_for()
    assert row.text_content() == XSS
    # Highlights are cut on code points: the emoji does not shift them.
    for mark in text.locator("mark.span").all_text_contents():
        assert mark in XSS
    # The author's history opens (h) and lists nothing as markup either.
    hostile.locator(".ident").click()
    page.keyboard.press("h")
    hostile.locator(".history-body .counts").wait_for()
    assert page.evaluate("window.__xss") is None
    # Give the lease back so the other test can claim it again.
    page.keyboard.press("u")
    hostile.wait_for(state="detached")


def test_admin_looks_up_a_rejected_comment_and_reopens_it(
    page: Any, browser: Any, site: Site
) -> None:
    """A reader complains about a rejection: an admin finds the comment by id on the page,
    sends it back to the queue hidden, with a note; a moderator sees it but cannot reopen."""
    comment_id, article = "ui-complaint", "ui-reopen-article"
    moderator = live_server.bearer(live_server.login(site.server.url, "ola", site.password))
    with httpx.Client(base_url=site.server.url, timeout=30) as client:
        created = client.put(
            f"/v1/articles/{article}",
            json={"title": "Wybory"},
            headers=live_server.bearer(site.key),
        )
        assert created.status_code == 200, created.text
        policy = client.put(
            f"/v1/articles/{article}/policy",
            json={"premoderate": True},
            headers=live_server.bearer(site.admin_token),
        )
        assert policy.status_code == 200, policy.text
        submitted = client.post(
            "/v1/comments",
            json={"comments": [live_server.comment(comment_id, XSS, article=article)]},
            headers=live_server.bearer(site.key),
        )
        assert submitted.status_code == 201, submitted.text
        claimed = client.post(
            "/v1/queue/claim", json={"article_id": article}, headers=moderator
        ).json()["items"]
        assert [item["id"] for item in claimed] == [comment_id]
        decided = client.post(
            f"/v1/queue/{comment_id}/decision",
            json={"action": "reject", "reason": "insult"},
            headers=moderator,
        )
        assert decided.status_code == 200, decided.text

    # A moderator finds it, shown as text, and is offered no reopening.
    log_in(page, site)
    page.fill("#lookup input[name=comment_id]", comment_id)
    page.click("#lookup button")
    found = page.locator(f".looked-up[data-id='{comment_id}']")
    found.wait_for()
    assert found.locator(".comment-text").text_content() == XSS
    assert found.locator("script, img").count() == 0
    assert "rejected" in (found.locator(".status").text_content() or "")
    assert found.locator("button.reopen").count() == 0
    page.fill("#lookup input[name=comment_id]", "no-such-comment")
    page.click("#lookup button")
    page.wait_for_selector("#lookup-result .error-text:has-text('no-such-comment')")

    # The admin, in a browser context of their own, reopens it to "held" with a note.
    context = browser.new_context(base_url=site.server.url)
    admin_page = context.new_page()
    errors: list[str] = []
    admin_page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        log_in(admin_page, site, "szef", site.admin_password)
        admin_page.fill("#lookup input[name=comment_id]", comment_id)
        admin_page.click("#lookup button")
        box = admin_page.locator(f".looked-up[data-id='{comment_id}']")
        box.locator("button.reopen").wait_for()
        box.locator("select.reopen-status").select_option("held")
        box.locator("input.reopen-note").fill("skarga czytelnika")
        box.locator("button.reopen").click()
        admin_page.wait_for_selector(f".looked-up[data-id='{comment_id}'] .status:has-text('held')")
        assert box.locator("button.reopen").count() == 0  # queued again: nothing to reopen
        assert "reopen" in (box.locator("ol").text_content() or "")
    finally:
        context.close()
    assert not errors, errors

    stored = httpx.get(
        f"{site.server.url}/v1/comments/{comment_id}", headers=live_server.bearer(site.key)
    ).json()
    assert stored["status"] == "held" and stored["decided_by"] is None
    audit = httpx.get(
        f"{site.server.url}/v1/audit",
        params={"comment_id": comment_id},
        headers=live_server.bearer(site.admin_token),
    ).json()["items"]
    reopened = [entry for entry in audit if entry["action"] == "reopen"]
    assert len(reopened) == 1, audit
    assert reopened[0]["actor"] == "szef" and reopened[0]["note"] == "skarga czytelnika"
    assert (reopened[0]["from_status"], reopened[0]["to_status"]) == ("rejected", "held")


def test_highlights_cut_on_code_points_and_merge_overlaps(browser: Any) -> None:
    """highlight.js alone: Python's code-point offsets, overlapping attributes, bad spans."""
    script = (live_server.REPO / "moderation" / "web" / "static" / "highlight.js").read_text()
    context = browser.new_context()
    try:
        blank = context.new_page()
        blank.set_content("<div id=box></div>")
        blank.add_script_tag(content=script)
        text = "🙂🙂 <b>Ty</b> chuju jebany"
        # Offsets as Python counts them: each emoji is one character.
        begin = text.index("chuju")
        spans = {
            "toxicity": [{"begin": begin, "end": begin + 12, "text": "chuju jebany", "score": 0.6}],
            "obscene": [{"begin": begin + 6, "end": begin + 12, "text": "jebany", "score": 0.3}],
            "insult": [{"begin": 99, "end": 120, "score": 1}, {"begin": 5, "end": 2, "score": 1}],
        }
        result = blank.evaluate(
            """([text, spans]) => {
                const box = document.getElementById("box");
                const marks = window.ModerationHighlight.render(
                    box, text, spans, ["toxicity", "obscene", "insult"]);
                return {
                    marks,
                    text: box.textContent,
                    pieces: Array.from(box.querySelectorAll("mark")).map(
                        (m) => [m.textContent, m.dataset.attributes]),
                    elements: box.querySelectorAll("*").length,
                };
            }""",
            [text, spans],
        )
    finally:
        context.close()
    assert result["text"] == text
    assert result["pieces"] == [["chuju ", "toxicity"], ["jebany", "toxicity obscene"]]
    assert result["marks"] == 2 and result["elements"] == 2  # only the marks: <b> stayed text
