"""Two people in one session, in two Chromium contexts, against the real server.

The owner (the local user) makes a session and shares it through the page; a guest opens the
link. What one keeps in the library appears at the other's at once; renames at the same moment
end in one name with the other told why; a delete and a rename at the same moment end with the
component gone at both; each sees what the other listens to; a third context with a wrong token
is refused and sees nothing of the session.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Server
from playwright.sync_api import Browser, BrowserContext, Page, expect
from test_studio import decompose, shot

pytestmark = pytest.mark.e2e

WAIT_MS = 30_000


def state(page: Page) -> dict[str, Any]:
    value: dict[str, Any] = page.evaluate("window.residue.state()")
    return value


def person(browser: Browser, name: str) -> BrowserContext:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(f"localStorage.setItem('residue.name', {name!r})")
    return context


def watch_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def joined(page: Page) -> None:
    page.wait_for_function(
        "() => window.residue !== undefined && window.residue.state().session.joined"
        " && window.residue.state().sounds > 0",
        timeout=WAIT_MS,
    )


def library(page: Page) -> tuple[list[str], int]:
    s = state(page)
    return s["libraryNames"], s["librarySeq"]


def same_library(a: Page, b: Page) -> tuple[list[str], int]:
    """Wait until both pages hold the same library at the same op; return it."""
    a.wait_for_function(
        "seq => window.residue.state().librarySeq >= seq", arg=state(b)["librarySeq"],
        timeout=WAIT_MS,
    )
    b.wait_for_function(
        "seq => window.residue.state().librarySeq >= seq", arg=state(a)["librarySeq"],
        timeout=WAIT_MS,
    )
    assert library(a) == library(b), (library(a), library(b))
    return library(a)


def open_edit(page: Page, name: str, new_name: str) -> None:
    item = page.locator(f"[data-testid=library-item][data-name='{name}']")
    item.get_by_test_id("library-rename").click()
    item.get_by_test_id("rename-input").fill(new_name)


def click_now(page: Page, selector: str) -> bool:
    """Click from inside the page (no actionability wait): two people at the same moment.

    Returns whether the control was still there: another person's change may have removed it.
    """
    clicked: bool = page.evaluate(
        f"(() => {{ const el = document.querySelector({selector!r});"
        " if (el === null) return false; el.click(); return true; })()"
    )
    return clicked


@pytest.fixture
def pair(browser: Browser, server: Server) -> Iterator[tuple[Page, Page, list[str]]]:
    ana_ctx, bo_ctx = person(browser, "ana"), person(browser, "bo")
    try:
        ana = ana_ctx.new_page()
        errors = watch_errors(ana)
        ana.goto(server.url)
        joined(ana)
        assert state(ana)["session"]["id"] == "default"
        # the owner makes a session (the page moves into it) and shares it
        ana.get_by_test_id("invites-button").click()
        ana.get_by_test_id("new-session-name").fill("tuesday duo")
        ana.get_by_test_id("new-session-button").click()
        expect(ana.get_by_test_id("session-name")).to_have_text("tuesday duo", timeout=WAIT_MS)
        joined(ana)
        ana.get_by_test_id("share-button").click()
        link_input = ana.get_by_test_id("share-link")
        expect(link_input).to_have_value(re.compile(r"#s=[\w-]+&t=[\w-]{43}$"), timeout=WAIT_MS)
        link = link_input.input_value()
        assert link.startswith(server.url)
        bo = bo_ctx.new_page()
        errors += watch_errors(bo)
        bo.goto(link)
        joined(bo)
        assert "t=" not in bo.url, "the token stays in the address bar"
        expect(bo.get_by_test_id("session-name")).to_have_text("tuesday duo")
        expect(bo.get_by_test_id("share-button")).to_be_hidden()  # a guest cannot share
        for page, other in ((ana, "bo"), (bo, "ana")):
            expect(page.locator(f"[data-testid=member][data-name='{other}']")).to_be_visible(
                timeout=WAIT_MS
            )
        yield ana, bo, errors
    finally:
        ana_ctx.close()
        bo_ctx.close()


def test_two_people_one_library(
    pair: tuple[Page, Page, list[str]], artifacts: Path, server: Server, timbre_model: str
) -> None:
    ana, bo, errors = pair
    shot(ana, artifacts, "50-session-shared")

    # ana keeps a unit; bo sees it appear without reloading
    decompose(ana, 2)
    ana.get_by_test_id("save-name").fill("shared kick")
    ana.get_by_test_id("save-button").click()
    seen = bo.locator("[data-testid=library-item][data-name='shared kick']")
    expect(seen).to_be_visible(timeout=5_000)
    same_library(ana, bo)
    shot(bo, artifacts, "51-session-appeared")

    # both rename it at the same moment from the same version: one name wins, the other is told
    open_edit(ana, "shared kick", "kick A")
    open_edit(bo, "shared kick", "kick B")
    assert click_now(ana, "[data-testid=rename-save]")
    # ana's rename may reach bo's page first and close bo's form: then bo never sent one
    bo_sent = click_now(bo, "[data-testid=rename-save]")
    names, _ = same_library(ana, bo)
    assert len(names) == 1 and names[0] in {"kick A", "kick B"}, names
    if bo_sent:  # both were sent from the same version: one wins, the other is told why
        loser = bo if names[0] == "kick A" else ana
        told = loser.get_by_test_id("toast-error").filter(has_text="Not renamed")
        expect(told).to_be_visible(timeout=5_000)
        expect(told).to_contain_text(f"renamed to “{names[0]}” by")
        shot(loser, artifacts, "52-session-rename-conflict")
    else:
        assert names == ["kick A"], names

    # ana deletes it while bo renames it: it is gone at both (a delete wins)
    current = names[0]
    bo_item = bo.locator(f"[data-testid=library-item][data-name='{current}']")
    open_edit(bo, current, "renamed while deleted")
    ana_item = ana.locator(f"[data-testid=library-item][data-name='{current}']")
    ana_item.get_by_test_id("library-delete").click()
    ana.get_by_test_id("confirm-delete").wait_for()
    assert click_now(ana, "[data-testid=confirm-delete]")
    # ana's delete may reach bo's page before bo presses save: then there is nothing to rename
    bo_sent = click_now(bo, "[data-testid=rename-save]")
    names, seq = same_library(ana, bo)
    assert names == [], names
    expect(bo_item).to_have_count(0)
    # the log has add, rename, delete (3 ops), and bo's rename too if it landed before the delete
    assert seq in (3, 4), seq
    if seq == 3 and bo_sent:  # bo's rename came after the delete: refused, and bo is told why
        refusal = bo.get_by_test_id("toast-error").filter(has_text="was deleted by ana")
        expect(refusal.last).to_be_visible(timeout=5_000)
        expect(refusal.last).to_contain_text("Not renamed")
    shot(bo, artifacts, "53-session-delete-wins")

    # presence: what bo listens to shows at ana's
    bo.get_by_test_id("transport-play").click()
    playing = ana.locator("[data-testid=member][data-name='bo'] [data-testid=member-playing]")
    expect(playing).to_be_visible(timeout=WAIT_MS)
    assert "original" in playing.inner_text() or "unit" in playing.inner_text()
    shot(ana, artifacts, "54-session-presence")
    bo.get_by_test_id("transport-play").click()
    expect(playing).to_be_hidden(timeout=WAIT_MS)

    # another room's sound shows too: bo hovers a point of the timbre map
    bo.get_by_test_id("room-timbre").click()
    bo.wait_for_function(
        "window.residueTimbre.points().some(p => p.visible)", timeout=WAIT_MS, polling=100
    )
    point = bo.evaluate("window.residueTimbre.points().find(p => p.visible)")
    bo.mouse.move(point["x"], point["y"])
    expect(playing).to_contain_text("timbre map", timeout=WAIT_MS)
    bo.get_by_test_id("timbre-stop").click()
    expect(playing).to_be_hidden(timeout=WAIT_MS)
    assert errors == [], errors


def test_wrong_token_is_refused(browser: Browser, server: Server, artifacts: Path) -> None:
    context = person(browser, "mallory")
    try:
        page = context.new_page()
        errors = watch_errors(page)
        page.goto(f"{server.url}/#s=default&t={'A' * 43}")
        refused = page.get_by_test_id("refused")
        expect(refused).to_be_visible(timeout=WAIT_MS)
        expect(refused).to_contain_text("not valid")
        s = state(page)
        assert s["sounds"] == 0 and s["library"] == 0 and not s["session"]["joined"]
        expect(page.get_by_test_id("sound-item")).to_have_count(0)
        shot(page, artifacts, "55-session-refused")
        assert errors == [], errors
    finally:
        context.close()
