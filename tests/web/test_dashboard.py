"""The operator dashboard in a real browser against a real server: log in, enrol from real photos
(a group photo and a blurred one refused with the server's reason), thumbnails, a file camera's
alert arriving in the live feed, the "wrong person" review, the reports pages, unknown faces
promoted to a person, what a viewer may not do, and every page at desktop and phone width
(screenshots)."""

from __future__ import annotations

import cv2
import pytest
from dashboard_support import DATA, DESKTOP, PHONE, new_page, open_page, screenshot, wait_until

pytestmark = pytest.mark.timeout(300)

FACES = DATA / "faces"
PAGES = ("people", "live", "alerts", "timeline?person=obama", "happiness", "access", "unknown")


@pytest.fixture(scope="module")
def operator_api(dashboard):
    with dashboard.client("operator") as client:
        yield client


@pytest.fixture(scope="module")
def obama(operator_api):
    """obama enrolled (through the page by test_operator_enrols_from_photos, else here)."""
    if operator_api.get("/subjects/obama").status_code == 404:
        with (FACES / "obama.jpg").open("rb") as photo:
            created = operator_api.post("/subjects", data={"name": "obama"}, files={"images": photo})
        assert created.status_code == 201, created.text
    return "obama"


@pytest.fixture(scope="module")
def corridor_done(dashboard, operator_api, obama):
    """The corridor clip has been played once by its file camera (started here when no test did)."""
    def state():
        return operator_api.get("/cameras/corridor").json()["state"]

    if state() == "stopped":
        assert operator_api.post("/cameras/corridor/start").status_code == 200
    wait_until(lambda: state() == "finished", 120, 0.5, "the corridor camera to finish its clip")
    return True


def test_login_with_a_key_gives_the_role(browser, dashboard, shots):
    page = new_page(browser, dashboard, role=None)
    page.goto("/ui/alerts")
    page.wait_for_url("**/ui/login?next=%2Fui%2Falerts")
    page.fill("#key", "flk_0000000000000000_not-a-real-key-at-all")
    page.click("button[type=submit]")
    page.wait_for_selector("text=This key is unknown or revoked.")
    screenshot(page, shots, "login")

    page.fill("#key", dashboard.keys["viewer"])
    page.click("button[type=submit]")
    page.wait_for_url("**/ui/alerts")
    page.wait_for_selector("body[data-ready='1']")
    assert page.inner_text("#who") == "web-viewer · viewer"  # GET /me: the key's name and role
    page.click("#logout")
    page.wait_for_url("**/ui/login")
    page.context.close()


def test_operator_enrols_from_photos(browser, dashboard, operator_api, shots, tmp_path):
    blurred = tmp_path / "obama_blurred.jpg"  # a real face, too blurred to enrol (strict quality)
    cv2.imwrite(str(blurred), cv2.GaussianBlur(cv2.imread(str(FACES / "obama.jpg")), (41, 41), 0))
    page = new_page(browser, dashboard, "operator")
    open_page(page, "/ui/people")
    page.click("text=Enrol person")
    page.fill("dialog input[name=name]", "obama")
    page.set_input_files("dialog input[name=photos]",
                         [str(FACES / "obama.jpg"), str(FACES / "two_people.jpg"), str(blurred)])
    # the quality check before sending: one face with its measurements, and a group photo
    page.wait_for_selector("[data-file='obama.jpg'] .quality")
    page.wait_for_selector("[data-file='two_people.jpg'] >> text=2 faces")
    page.click("dialog button[type=submit]")
    page.wait_for_selector("#enrol-status >> text=obama enrolled: 1 of 3 photos accepted.", timeout=60_000)
    accepted = page.inner_text("[data-file='obama.jpg']")
    assert "accepted" in accepted and "sharpness" in accepted
    # the server's reasons, shown beside each refused photo
    assert "2 faces" in page.inner_text("[data-file='two_people.jpg'] .reason")
    assert "blurred (sharpness" in page.inner_text("[data-file='obama_blurred.jpg'] .reason")
    screenshot(page, shots, "people-enrol")
    page.click("dialog >> text=Close")

    page.wait_for_selector(".person[data-name=obama] .thumb img[src^='blob:']")  # the kept face crop
    page.fill("input[name=q]", "oba")
    page.wait_for_selector("#people-count >> text=1 person")
    screenshot(page, shots, "people")
    subject = operator_api.get("/subjects/obama").json()
    assert len(subject["templates"]) == 1

    page.click(".person[data-name=obama]")
    page.wait_for_selector("dialog [data-person=obama] [data-face] img[src^='blob:']")
    page.check("dialog input[type=checkbox][value=staff]")
    page.click("text=Save watchlists")
    page.wait_for_selector("text=Watchlists saved")
    assert operator_api.get("/subjects/obama").json()["metadata"]["watchlist"] == ["staff"]
    screenshot(page, shots, "person")
    page.context.close()


def test_operator_adds_and_removes_photos_then_erases_the_person(browser, dashboard, operator_api):
    with (FACES / "biden.jpg").open("rb") as photo:
        assert operator_api.post("/subjects", data={"name": "biden"}, files={"images": photo}).status_code == 201
    page = new_page(browser, dashboard, "operator")
    page.on("dialog", lambda question: question.accept())  # the confirm() before each removal
    open_page(page, "/ui/people?q=biden")
    page.click(".person[data-name=biden]")
    page.set_input_files("dialog input[name=photos]", [str(FACES / "bbt1.jpg"), str(FACES / "biden.jpg")])
    page.click("dialog button:has-text('Add photos')")
    page.wait_for_selector("dialog [data-file='bbt1.jpg'].refused")
    page.wait_for_selector("dialog [data-face] >> nth=1")  # the accepted one joined the photos
    assert len(operator_api.get("/subjects/biden").json()["templates"]) == 2

    page.click("dialog [data-face] >> nth=0 >> text=Remove photo")
    page.wait_for_function("document.querySelectorAll('dialog [data-face]').length === 1")
    page.click("dialog >> text=Erase everywhere")
    page.wait_for_selector("dialog", state="detached")
    page.wait_for_selector(".person[data-name=biden]", state="detached")
    assert operator_api.get("/subjects/biden").status_code == 404
    page.context.close()


def test_file_camera_alert_reaches_the_feed_and_is_marked_wrong_person(browser, dashboard, operator_api, obama, shots):
    feed = new_page(browser, dashboard, "operator")
    open_page(feed, "/ui/alerts")
    feed.wait_for_selector("#live.on")  # subscribed to the event stream before the camera starts
    live = feed.context.new_page()
    open_page(live, "/ui/live")
    live.click("[data-camera=corridor] >> text=Start")
    live.wait_for_selector("[data-camera=corridor] .screen img", timeout=60_000)  # an annotated frame
    screenshot(live, shots, "live")

    card = feed.wait_for_selector("article.alert[data-identity=obama]", timeout=120_000)
    feed.wait_for_selector("article.alert[data-identity=obama] img[src^='blob:']")
    alert_id = card.get_attribute("data-alert")
    assert "camera corridor" in card.inner_text()
    screenshot(feed, shots, "alerts")

    feed.click(f"article[data-alert='{alert_id}'] [data-review=wrong_person]")
    feed.wait_for_selector(f"article[data-alert='{alert_id}'][data-status=wrong_person]")
    stored = operator_api.get(f"/alerts/{alert_id}").json()
    assert stored["status"] == "wrong_person" and stored["reviewed_by"] == "web-operator"
    screenshot(feed, shots, "alerts-reviewed")

    # the filters are the API's: only reviewed-as-wrong alerts of this camera
    open_page(feed, "/ui/alerts?camera=corridor&status=wrong_person")
    assert feed.locator("article.alert").count() == 1
    feed.context.close()


def test_happiness_chart_and_csv(browser, dashboard, corridor_done, shots):
    page = new_page(browser, dashboard, "viewer")
    open_page(page, "/ui/happiness")
    page.wait_for_selector(".chart[data-location=corridor] canvas")
    page.click("#happiness summary")
    assert page.locator("#happiness table tbody tr").count() >= 1
    screenshot(page, shots, "happiness")
    with page.expect_download() as download:
        page.click("text=Download CSV")
    text = download.value.path().read_text()
    assert text.splitlines()[0].startswith("location,") and "corridor" in text
    page.context.close()


def test_timeline_of_one_person(browser, dashboard, corridor_done, shots):
    page = new_page(browser, dashboard, "viewer")
    open_page(page, "/ui/timeline?person=obama")
    page.wait_for_selector("#timeline canvas")
    assert "corridor" in page.inner_text("#timeline table")
    screenshot(page, shots, "timeline")
    page.context.close()


def test_access_page_verifies_the_audit_chain(browser, dashboard, obama, shots):
    page = new_page(browser, dashboard, "operator")
    open_page(page, "/ui/access")
    assert page.locator("#audit tbody tr").count() >= 1  # key creation and enrolment are audited
    page.click("text=Verify chain")
    page.wait_for_selector("#chain >> text=chain intact")
    screenshot(page, shots, "access")
    page.context.close()


def test_unknown_faces_from_a_camera_are_promoted_to_a_person(browser, dashboard, operator_api, shots):
    assert operator_api.post("/cameras/lobby/start").status_code == 200  # nobody in the lobby is on "staff"
    wait_until(lambda: operator_api.get("/cameras/lobby").json()["state"] == "finished", 120, 0.5,
               "the lobby camera to finish its clip")
    assert operator_api.get("/cameras/lobby").json()["unknown_faces_recorded"] >= 2
    page = new_page(browser, dashboard, "operator")
    open_page(page, "/ui/unknown?min_size=1")  # each stranger walks by once: one face per cluster
    page.wait_for_selector("[data-cluster] .frame img[src^='blob:']")  # the unknown alert's snapshot
    cards = page.locator("[data-cluster]").count()
    assert cards >= 2
    screenshot(page, shots, "unknown")
    first = page.locator("[data-cluster] >> nth=0")
    first.locator("input[name=name]").fill("lobby-stranger")
    first.locator("text=Promote to person").click()
    page.wait_for_selector("text=lobby-stranger is now a person")
    page.wait_for_function(f"document.querySelectorAll('[data-cluster]').length === {cards - 1}")
    assert operator_api.get("/subjects/lobby-stranger").status_code == 200
    entries = operator_api.get("/audit", params={"event": "cluster.promote"}).json()["entries"]
    assert entries[0]["subject"] == "lobby-stranger" and entries[0]["details"]["actor"]["key"] == "web-operator"
    page.context.close()


def test_viewer_sees_no_changing_buttons_and_the_server_refuses_anyway(browser, dashboard, obama):
    page = new_page(browser, dashboard, "viewer")
    open_page(page, "/ui/people")
    assert not page.is_visible("text=Enrol person")
    page.click(".person[data-name=obama]")
    page.wait_for_selector("dialog [data-person=obama]")
    for label in ("Erase everywhere", "Remove from gallery", "Remove photo", "Add photos"):
        assert not page.is_visible(f"dialog >> text={label}"), label
    status = page.evaluate("""async (key) => (await fetch('/api/v1/subjects/obama/erase',
        {method: 'POST', headers: {'X-API-Key': key}})).status""", dashboard.keys["viewer"])
    assert status == 403
    open_page(page, "/ui/alerts")
    assert page.locator("[data-review]:visible").count() == 0
    page.context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_every_page_fits_the_screen(browser, dashboard, corridor_done, shots, viewport):
    page = new_page(browser, dashboard, "operator", viewport=viewport)
    for path in PAGES:
        open_page(page, f"/ui/{path}")
        assert page.locator(".error[role=alert]").count() == 0, page.inner_text("main")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} is {overflow} px wider than a {viewport['width']} px screen"
        if viewport is PHONE:
            screenshot(page, shots, f"phone-{path.split('?')[0]}")
    page.context.close()
