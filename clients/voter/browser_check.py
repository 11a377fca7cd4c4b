"""The voter's page in a real browser: Debian's headless Chromium, driven by selenium.

Usage: python3 browser_check.py BASE_URL SCREENSHOT_DIR
Environment: PINGYI_ADMIN_PASSWORD (the `admin` account's password).

It sets up a meeting through the API (an org with a secretary, a campaign, a session, two
voting codes), then, as a voter on a 375×667 phone screen: opens the QR link, rates every
subject, writes an opinion, confirms, reads the receipt; checks that the turnout went up by
one; opens the same link again and is told the code is used; after the close, checks the
receipt and types the other code by hand (lower case, no dashes) to be told the meeting is
over; and opens the page in a browser that prefers English. axe-core runs on every step;
a serious or critical violation fails the check.
Screenshots of each step go to SCREENSHOT_DIR.

Then the rating page (/rate, 好差评): it sets up a window unit with a service point open to
QR rating and two tickets, and, as someone just served: opens the first ticket's link, rates
非常不满意 with a comment and a phone number, and is thanked; checks that a case is awaiting its
call back; opens the same link again and is told the ticket has rated already; after the
unit called back and resolved the case, types the ticket by hand (lower case, no dashes) on
/rate#reply and reads the reply; rates 满意 through the poster's open QR; and opens the page
in a browser that prefers English. Its screenshots are named rate-*.png.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import sys
import urllib.error
import urllib.request
import uuid

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

HERE = pathlib.Path(__file__).resolve().parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"


class Api:
    """Plain JSON calls, enough to set a meeting up."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.token: str | None = None

    def call(self, method: str, path: str, body: object | None = None) -> dict:
        request = urllib.request.Request(self.base + path, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        data = None if body is None else json.dumps(body).encode()
        try:
            with urllib.request.urlopen(request, data) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as e:
            sys.exit(f"{method} {path}: {e.code} {e.read().decode()}")


def set_up_meeting(api: Api) -> tuple[int, list[str]]:
    run = uuid.uuid4().hex[:6]
    login = api.call("POST", "/api/v1/auth/login", {"username": "admin", "password": os.environ["PINGYI_ADMIN_PASSWORD"]})
    api.token = login["access_token"]
    city = api.call("POST", "/api/v1/orgs", {"name": f"测试市委 {run}", "kind": "committee", "domain": "institution"})
    branch = api.call(
        "POST",
        "/api/v1/orgs",
        {"name": f"机电工程学院教工第一党支部 {run}", "kind": "branch", "domain": "institution", "parent_id": city["id"]},
    )
    secretary = api.call("POST", "/api/v1/people", {"org_id": branch["id"], "name": "王书记", "member_type": "full"})
    api.call("PATCH", f"/api/v1/orgs/{branch['id']}", {"secretary_id": secretary["id"]})
    for name in ["李明", "张华"]:
        api.call("POST", "/api/v1/people", {"org_id": branch["id"], "name": name, "member_type": "full"})
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    campaign = api.call(
        "POST",
        "/api/v1/campaigns",
        {
            "owner_org_id": city["id"],
            "title": "2026年度创先争优群众评议",
            "starts_on": today.isoformat(),
            "ends_on": (today + dt.timedelta(days=30)).isoformat(),
            "template_id": 1,
        },
    )
    api.call("POST", f"/api/v1/campaigns/{campaign['id']}/activate", {})
    session = api.call(
        "POST",
        f"/api/v1/campaigns/{campaign['id']}/sessions",
        {"org_id": branch["id"], "kind": "branch_meeting", "scheduled_at": dt.datetime.now(dt.timezone.utc).isoformat(), "location": "实训楼 301"},
    )
    codes = api.call("POST", f"/api/v1/sessions/{session['id']}/voting-codes", {"category": "mass_representative", "count": 2})["codes"]
    api.call("POST", f"/api/v1/sessions/{session['id']}/open", {})
    return session["id"], codes


def browser(languages: str = "zh-CN,zh") -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    first = languages.split(",")[0]
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--lang={first}", "--window-size=375,667"]:
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": languages})
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    # The viewport of a 375×667 phone, whatever the window decorations take.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 375, "height": 667, "deviceScaleFactor": 2, "mobile": True}
    )
    return driver


def accessible(driver: webdriver.Chrome, step: str) -> None:
    """axe-core on the page as it stands: no serious or critical violation."""
    driver.execute_script(AXE.read_text())
    violations = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {resultTypes: ["violations"]})
          .then((r) => done(r.violations.map((v) => ({id: v.id, impact: v.impact, nodes: v.nodes.length}))))
          .catch((e) => done([{id: "axe-error", impact: "critical", nodes: String(e)}]));
        """
    )
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    if bad:
        sys.exit(f"accessibility ({step}): {bad}")
    print(f"  axe {step}: no serious or critical violation ({len(violations)} minor)")


def main() -> None:
    base, shots = sys.argv[1].rstrip("/"), pathlib.Path(sys.argv[2])
    shots.mkdir(parents=True, exist_ok=True)
    api = Api(base)
    session, codes = set_up_meeting(api)
    link = f"{base}/vote#code={codes[0]}"
    driver = browser()
    wait = WebDriverWait(driver, 15)
    try:
        driver.get(link)
        wait.until(ec.visibility_of_element_located((By.ID, "step-ballot")))
        assert "#code" not in driver.current_url, "the code leaves the address bar"
        driver.save_screenshot(str(shots / "1-ballot.png"))
        accessible(driver, "ballot")
        # Every subject rated 满意 with its shortcut; one criterion changed by hand.
        for subject in driver.find_elements(By.CSS_SELECTOR, ".subject"):
            subject.find_element(By.CSS_SELECTOR, ".same button").click()
        driver.find_element(By.CSS_SELECTOR, "#subject-0 .criterion label:nth-child(2)").click()
        driver.find_element(By.ID, "opinion").send_keys("希望多开展志愿服务")
        driver.find_element(By.CSS_SELECTOR, "#ballot-form button[type=submit]").click()
        wait.until(ec.visibility_of_element_located((By.ID, "step-confirm")))
        driver.save_screenshot(str(shots / "2-confirm.png"))
        accessible(driver, "confirm")
        driver.find_element(By.ID, "submit").click()
        wait.until(ec.visibility_of_element_located((By.ID, "step-receipt")))
        receipt = driver.find_element(By.ID, "receipt").text.strip()
        assert len(receipt) >= 10, receipt
        driver.save_screenshot(str(shots / "3-receipt.png"))
        accessible(driver, "receipt")

        turnout = api.call("GET", f"/api/v1/sessions/{session}/turnout")
        assert (turnout["issued"], turnout["used"]) == (2, 1), turnout

        # The same link again: the code is used.
        driver.get("about:blank")
        driver.get(link)
        wait.until(lambda d: "已经使用过" in d.find_element(By.ID, "alert").text)
        driver.save_screenshot(str(shots / "4-used.png"))
        accessible(driver, "used")

        # After the close, the voter finds their receipt among the published ones.
        api.call("POST", f"/api/v1/sessions/{session}/close", {})
        driver.get("about:blank")
        driver.get(f"{base}/vote#check={session}")
        wait.until(ec.visibility_of_element_located((By.ID, "step-check")))
        driver.find_element(By.ID, "check-receipt").send_keys(receipt)
        driver.find_element(By.CSS_SELECTOR, "#check-form button[type=submit]").click()
        wait.until(lambda d: "已计入" in d.find_element(By.ID, "check-result").text)
        driver.save_screenshot(str(shots / "5-checked.png"))
        accessible(driver, "check")

        # A code typed by hand (lower case, no dashes) after the close: the meeting is over.
        driver.get("about:blank")
        driver.get(f"{base}/vote")
        wait.until(ec.visibility_of_element_located((By.ID, "code-input")))
        driver.find_element(By.ID, "code-input").send_keys(codes[1].replace("-", "").lower())
        driver.find_element(By.CSS_SELECTOR, "#code-form button[type=submit]").click()
        wait.until(lambda d: "已经结束" in d.find_element(By.ID, "alert").text)
        driver.save_screenshot(str(shots / "6-closed.png"))
        accessible(driver, "closed")
    finally:
        driver.quit()

    # A browser that prefers English gets the page in English.
    driver = browser("en-US,en")
    try:
        driver.get(f"{base}/vote")
        WebDriverWait(driver, 15).until(ec.visibility_of_element_located((By.ID, "code-input")))
        heading = driver.find_element(By.ID, "code-heading").text
        assert heading == "Enter your voting code", heading
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
        driver.save_screenshot(str(shots / "7-english.png"))
        accessible(driver, "english")
    finally:
        driver.quit()
    print(f"voter page: ballot cast through Chromium, receipt {receipt} counted after close; screenshots in {shots}")

    check_rate_page(api, base, shots)


def set_up_window(api: Api) -> tuple[int, dict, list[str]]:
    """A window unit under a root org, one service point open to QR rating, two tickets."""
    if not api.token:
        login = api.call("POST", "/api/v1/auth/login", {"username": "admin", "password": os.environ["PINGYI_ADMIN_PASSWORD"]})
        api.token = login["access_token"]
    run = uuid.uuid4().hex[:6]
    root = api.call("POST", "/api/v1/orgs", {"name": f"测试市委 {run}", "kind": "committee", "domain": "institution"})
    unit = api.call(
        "POST",
        "/api/v1/orgs",
        {"name": f"后勤服务中心党支部 {run}", "kind": "branch", "domain": "institution", "parent_id": root["id"], "window_unit": True},
    )
    point = api.call(
        "POST", f"/api/v1/orgs/{unit['id']}/service-points", {"name": "1号窗口", "location": "行政楼一楼", "open_rating": True}
    )
    issued = api.call("POST", f"/api/v1/service-points/{point['id']}/tickets", {"count": 2})["tickets"]
    tickets = [t["ticket"] for t in issued]
    assert len(tickets) == 2, issued
    assert issued[0]["link"].endswith(f"/rate#ticket={tickets[0]}"), issued[0]
    return unit["id"], point, tickets


def cases_of(api: Api, unit: int) -> list[dict]:
    page = api.call("GET", f"/api/v1/instant-cases?org_id={unit}")
    assert page["total"] == len(page["items"]), page
    return page["items"]


def check_rate_page(api: Api, base: str, shots: pathlib.Path) -> None:
    """The rating page (/rate) in a real browser: ticket, bad review, case, reply, open QR, English."""
    unit, point, tickets = set_up_window(api)
    phone = "13812345678"
    reply_text = "已对窗口工作人员进行批评教育，并增设咨询引导岗。感谢您的监督！"
    # The links as they are printed, on the address the check reaches the server at.
    link = f"{base}/rate#ticket={tickets[0]}"
    fragment = point["rate_link"].split("#", 1)[1]
    assert fragment.startswith("point="), point["rate_link"]
    open_link = f"{base}/rate#{fragment}"
    driver = browser()
    wait = WebDriverWait(driver, 15)
    try:
        # The slip's link: the form for this point, the ticket out of the address bar.
        driver.get(link)
        wait.until(ec.visibility_of_element_located((By.ID, "step-rate")))
        assert "#ticket" not in driver.current_url, "the ticket leaves the address bar"
        where = driver.find_element(By.ID, "where").text
        assert "1号窗口" in where and "后勤服务中心党支部" in where, where
        assert not driver.find_element(By.ID, "unverified").is_displayed(), "a ticket is a verified rating"
        assert not driver.find_element(By.ID, "contact").is_displayed(), "no contact field before a bad review"
        driver.save_screenshot(str(shots / "rate-1-form.png"))
        accessible(driver, "rate form")

        # 非常不满意: the contact field appears. One criterion rated too, a comment, a phone.
        driver.find_element(By.CSS_SELECTOR, "label[for='level-very_dissatisfied']").click()
        assert driver.find_element(By.ID, "level-very_dissatisfied").is_selected()
        wait.until(ec.visibility_of_element_located((By.ID, "contact")))
        driver.find_element(By.CSS_SELECTOR, ".rate-items summary").click()
        driver.find_element(By.CSS_SELECTOR, "#items .criterion label:nth-child(5)").click()
        driver.find_element(By.ID, "comment").send_keys("排队四十分钟无人引导，工作人员态度冷淡")
        driver.find_element(By.ID, "contact").send_keys(phone)
        driver.save_screenshot(str(shots / "rate-2-filled.png"))
        accessible(driver, "rate filled")
        driver.find_element(By.CSS_SELECTOR, "#rate-form button[type=submit]").click()
        wait.until(ec.visibility_of_element_located((By.ID, "step-thanks")))
        # A ticket, a bad review and a contact: the ticket is shown once, to read the reply.
        assert driver.find_element(By.ID, "thanks-ticket").text.strip() == tickets[0]
        assert "/rate#reply" in driver.find_element(By.ID, "thanks-help").text
        driver.save_screenshot(str(shots / "rate-3-thanks.png"))
        accessible(driver, "rate thanks")

        # The bad review opened a case, waiting for its call back: the administrator, who
        # handles it, sees the whole phone number to call.
        cases = cases_of(api, unit)
        assert len(cases) == 1 and cases[0]["status"] == "awaiting_follow_up", cases
        assert cases[0].get("contact") == phone, cases[0]

        # The same link again: the ticket has rated already.
        driver.get("about:blank")
        driver.get(link)
        wait.until(lambda d: "已经评价过" in d.find_element(By.ID, "alert").text)
        assert "#ticket" not in driver.current_url
        driver.save_screenshot(str(shots / "rate-4-used.png"))
        accessible(driver, "rate used")

        # The unit calls back and resolves the case; the rater reads the reply with the ticket,
        # typed by hand (lower case, no dashes).
        case = cases[0]["id"]
        api.call("POST", f"/api/v1/instant-cases/{case}/follow-up", {"result": "confirmed", "note": "已电话回访"})
        api.call(
            "POST",
            f"/api/v1/instant-cases/{case}/resolve",
            {"measures": "增设咨询引导岗，高峰时段加开窗口", "reply": reply_text},
        )
        driver.get("about:blank")
        driver.get(f"{base}/rate#reply")
        wait.until(ec.visibility_of_element_located((By.ID, "reply-ticket")))
        driver.find_element(By.ID, "reply-ticket").send_keys(tickets[0].replace("-", "").lower())
        driver.find_element(By.CSS_SELECTOR, "#reply-form button[type=submit]").click()
        wait.until(lambda d: reply_text in d.find_element(By.ID, "reply-result").text)
        result = driver.find_element(By.ID, "reply-result").text
        assert "已办结" in result and "增设咨询引导岗" in result, result
        driver.save_screenshot(str(shots / "rate-5-reply.png"))
        accessible(driver, "rate reply")

        # The poster's open QR: no ticket, counted apart; 满意 asks for no contact, opens no case.
        driver.get("about:blank")
        driver.get(open_link)
        wait.until(ec.visibility_of_element_located((By.ID, "step-rate")))
        assert "#point" not in driver.current_url, "the point key leaves the address bar"
        assert driver.find_element(By.ID, "unverified").is_displayed(), "the open QR says it is counted apart"
        driver.find_element(By.CSS_SELECTOR, "label[for='level-satisfied']").click()
        assert not driver.find_element(By.ID, "contact").is_displayed()
        driver.save_screenshot(str(shots / "rate-6-open.png"))
        accessible(driver, "rate open QR")
        driver.find_element(By.CSS_SELECTOR, "#rate-form button[type=submit]").click()
        wait.until(ec.visibility_of_element_located((By.ID, "step-thanks")))
        assert not driver.find_element(By.ID, "thanks-reply").is_displayed(), "no ticket to show"
        driver.save_screenshot(str(shots / "rate-7-open-thanks.png"))
        accessible(driver, "rate open thanks")
        assert len(cases_of(api, unit)) == 1, "a good review opens no case"
    finally:
        driver.quit()

    # A browser that prefers English gets the rating page in English.
    driver = browser("en-US,en")
    try:
        driver.get(f"{base}/rate")
        WebDriverWait(driver, 15).until(ec.visibility_of_element_located((By.ID, "ticket-input")))
        heading = driver.find_element(By.ID, "ticket-heading").text
        assert heading == "Enter your ticket code", heading
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
        driver.save_screenshot(str(shots / "rate-8-english.png"))
        accessible(driver, "rate english")
    finally:
        driver.quit()
    print(f"rate page: bad review rated through Chromium, reply read with the ticket, open QR rated; screenshots in {shots}")


if __name__ == "__main__":
    main()
