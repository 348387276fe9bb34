"""The kiosk page in headless Debian Chromium (selenium, no network): upload a QR image, see 有效 / 无效."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import sys
import threading
from pathlib import Path

import pytest

NOW = dt.datetime(2026, 6, 1, 8, 0, 0, tzinfo=dt.UTC)
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="Debian chromium + chromium-driver not installed (CI installs them: .ci/apt-packages.txt)",
)


def png(payload: str) -> bytes:
    from elicense.qr.render import make_qr

    buf = io.BytesIO()
    make_qr(payload).save(buf, kind="png", scale=6, border=4)
    return buf.getvalue()


@pytest.fixture(scope="module")
def kiosk_url(world, tmp_path_factory):  # type: ignore[no-untyped-def]
    from elicense.kiosk.server import make_app, make_server
    from elicense.verify import Verifier

    bundle = tmp_path_factory.mktemp("kiosk-browser") / "trust-bundle.cose"
    shutil.copyfile(world.trust_file, bundle)
    app = make_app(Verifier.from_trust_file(bundle, clock=lambda: NOW), bundle_path=bundle)
    server = make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def driver(monkeypatch_module):  # type: ignore[no-untyped-def]
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    monkeypatch_module.setenv("SE_OFFLINE", "true")  # selenium-manager must never fetch a driver
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-proxy-server",
        "--window-size=1080,1920",
        "--force-device-scale-factor=1",
        "--lang=zh-CN",
        "--disable-extensions",
        "--no-first-run",
    ):
        options.add_argument(arg)
    drv = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    drv.set_window_size(1080, 1920)
    yield drv
    drv.quit()


@pytest.fixture(scope="module")
def monkeypatch_module():  # type: ignore[no-untyped-def]
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def upload_and_wait(driver, path: Path) -> str:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.find_element(By.ID, "file").send_keys(str(path))
    WebDriverWait(driver, 30).until(
        lambda d: (
            d.find_element(By.ID, "verdict").is_displayed()
            and d.find_element(By.ID, "verdict").get_attribute("data-status")
        )
    )
    return str(driver.find_element(By.ID, "verdict").get_attribute("data-status"))


def reset_with_escape(driver) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    WebDriverWait(driver, 10).until(lambda d: not d.find_element(By.ID, "verdict").is_displayed())


def shot(driver, tmp_path: Path, name: str, record_property) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    record_property(f"screenshot_{name}", str(path))
    print(f"screenshot: {path}", file=sys.stderr)
    return path


def test_upload_valid_then_revoked(driver, kiosk_url, world, tmp_path, record_property) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(kiosk_url)
    assert driver.get_window_size() == {"width": 1080, "height": 1920}
    assert driver.execute_script("return document.documentElement.scrollWidth") <= 1080  # portrait: no sideways scroll
    WebDriverWait(driver, 10).until(lambda d: "#" in d.find_element(By.ID, "trust").text)  # bundle info shown
    valid = tmp_path / "valid.qr.png"
    valid.write_bytes(png(world.issued["driving-licence-nanjing"].qr_payload))
    assert upload_and_wait(driver, valid) == "VALID"
    assert driver.find_element(By.ID, "v-label-zh").text == "有效"
    holder = driver.find_element(By.ID, "v-holder").text
    full = world.issued["driving-licence-nanjing"].licence.holder.name
    assert full not in holder and "*" in holder  # masked as the catalogue says
    assert "机动车驾驶证" in driver.find_element(By.ID, "v-type").text
    assert driver.find_element(By.ID, "verdict").get_attribute("aria-live") == "assertive"
    png_path = shot(driver, tmp_path, "valid", record_property)
    assert png_path.stat().st_size > 10_000
    reset_with_escape(driver)

    revoked = tmp_path / "revoked.qr.png"
    revoked.write_bytes(png(world.issued["business-licence-revoked"].qr_payload))
    assert upload_and_wait(driver, revoked) == "INVALID"
    assert driver.find_element(By.ID, "v-label-zh").text == "无效"
    reasons = driver.find_element(By.ID, "v-reasons").text
    assert "吊销" in reasons and "revoked" in reasons.lower()  # Chinese, English beneath
    shot(driver, tmp_path, "revoked", record_property)
    reset_with_escape(driver)

    origins = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert origins and all(u.startswith(kiosk_url) for u in origins), origins  # nothing from outside: works offline


@pytest.mark.parametrize("scene", ["phone_screen", "printed_page"])
def test_camera_like_photo_of_a_valid_licence_shows_valid(  # type: ignore[no-untyped-def]
    driver, kiosk_url, world, tmp_path, record_property, scene: str
) -> None:
    from selenium.webdriver.common.by import By

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from camera_corpus import make_frame

    driver.get(kiosk_url)
    photo = tmp_path / f"{scene}.jpg"
    photo.write_bytes(make_frame(scene, [world.issued["business-licence-jinan"].qr_payload], seed=0))
    assert upload_and_wait(driver, photo) == "VALID"
    assert driver.find_element(By.ID, "v-label-zh").text == "有效"
    shot(driver, tmp_path, scene, record_property)


def test_controls_are_keyboard_reachable(driver, kiosk_url) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    driver.get(kiosk_url)
    focused = []
    for _ in range(4):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        focused.append(driver.switch_to.active_element.get_attribute("id"))
    assert focused[:3] == ["start-camera", "file-label", "paste"], focused  # upload is reachable by keyboard


def y4m(jpeg: bytes) -> bytes:
    """One-frame Y4M video (4:2:0) of an image: Chromium's fake camera plays it in a loop."""
    from PIL import Image

    image = Image.open(io.BytesIO(jpeg)).convert("YCbCr")
    w, h = image.width // 2 * 2, image.height // 2 * 2
    y, cb, cr = image.crop((0, 0, w, h)).split()
    half = (w // 2, h // 2)
    planes = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    return f"YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n".encode() + b"FRAME\n" + planes


def test_camera_stream_of_a_phone_screen_shows_valid(  # type: ignore[no-untyped-def]
    kiosk_url, world, tmp_path, record_property, monkeypatch_module
) -> None:
    """getUserMedia → canvas → JPEG frames → /api/verify, with Chromium's fake camera showing a phone photo."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from camera_corpus import make_frame

    video = tmp_path / "camera.y4m"
    video.write_bytes(y4m(make_frame("phone_screen", [world.issued["business-licence-jinan"].qr_payload], seed=1)))
    monkeypatch_module.setenv("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-proxy-server",
        "--window-size=1080,1920",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ):
        options.add_argument(arg)
    drv = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        drv.get(kiosk_url)
        button = drv.find_element(By.ID, "start-camera")
        if button.is_displayed():
            button.click()
        WebDriverWait(drv, 60).until(lambda d: d.find_element(By.ID, "verdict").get_attribute("data-status"))
        assert drv.find_element(By.ID, "verdict").get_attribute("data-status") == "VALID"
        assert drv.find_element(By.ID, "v-label-zh").text == "有效"
        shot(drv, tmp_path, "camera", record_property)
        reset_with_escape(drv)  # the phone is still in front of the camera: no second flash of the verdict
        WebDriverWait(drv, 30).until(lambda d: "请移开证照" in d.find_element(By.ID, "message").text)
        assert not drv.find_element(By.ID, "verdict").is_displayed()
    finally:
        drv.quit()


def test_stale_bundle_warning_is_shown(driver, world, tmp_path, record_property) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from elicense.kiosk.server import make_app, make_server
    from elicense.verify import Verifier

    late = NOW + dt.timedelta(days=400)
    app = make_app(Verifier.from_trust_file(world.trust_file, clock=lambda: late), bundle_path=world.trust_file)
    server = make_server(app, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        driver.get(f"http://127.0.0.1:{server.server_port}/")
        WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "trust-warning").is_displayed())
        text = driver.find_element(By.ID, "trust-warning").text
        assert "信任数据已过期" in text and "out of date" in text
        shot(driver, tmp_path, "stale", record_property)
        qr = tmp_path / "valid.qr.png"
        qr.write_bytes(png(world.issued["business-licence-jinan"].qr_payload))
        assert upload_and_wait(driver, qr) == "INDETERMINATE"  # stale trust never says 有效
        assert driver.find_element(By.ID, "v-label-zh").text == "无法确认"
        shot(driver, tmp_path, "indeterminate", record_property)
        reset_with_escape(driver)
    finally:
        server.shutdown()
        server.server_close()


def test_screenshot_of_an_expired_presentation_shows_invalid(  # type: ignore[no-untyped-def]
    driver, kiosk_url, world, tmp_path, record_property
) -> None:
    """亮证: a screenshot of a presentation QR made 10 minutes ago (5-minute lifetime) → 无效."""
    from PIL import Image
    from selenium.webdriver.common.by import By

    from elicense.present import SoftwareDeviceKey, issue_holder_credential, make_presentation

    issued = world.issued["driving-licence-nanjing"]
    device = SoftwareDeviceKey.generate()
    signer = world.home.signer(world.home.authority(issued.licence.issuer.code))
    cred = issue_holder_credential(issued.licence, signer, device.public_key, at=NOW - dt.timedelta(days=1))
    old = make_presentation(cred, device, show=["holder_name"], now=NOW - dt.timedelta(minutes=10))
    code = Image.open(io.BytesIO(png(old.payload))).convert("L")
    screen = Image.new("L", (1080, 1920), 246)  # a phone screenshot: the QR mid-screen, saved as JPEG
    screen.paste(code.resize((900, 900), Image.Resampling.NEAREST), (90, 420))
    path = tmp_path / "expired-presentation.jpg"
    screen.save(path, "JPEG", quality=80)
    driver.get(kiosk_url)
    assert upload_and_wait(driver, path) == "INVALID"
    assert driver.find_element(By.ID, "v-label-zh").text == "无效"
    reasons = driver.find_element(By.ID, "v-reasons")
    assert reasons.find_element(By.TAG_NAME, "li").get_attribute("data-code") == "presentation_expired"
    shot(driver, tmp_path, "expired-presentation", record_property)
    reset_with_escape(driver)


def test_presentation_shows_what_was_disclosed(  # type: ignore[no-untyped-def]
    driver, kiosk_url, world, tmp_path, record_property
) -> None:
    """亮证 (#20): the verdict lists the disclosed fields; what was withheld says so, never a lone '*'."""
    from selenium.webdriver.common.by import By

    from elicense.present import SoftwareDeviceKey, issue_holder_credential, make_presentation

    issued = world.issued["driving-licence-nanjing"]
    device = SoftwareDeviceKey.generate()
    signer = world.home.signer(world.home.authority(issued.licence.issuer.code))
    cred = issue_holder_credential(issued.licence, signer, device.public_key, at=NOW - dt.timedelta(days=1))
    pres = make_presentation(cred, device, show=["holder_name", "vehicle_classes"], now=NOW)
    path = tmp_path / "presentation.png"
    path.write_bytes(png(pres.payload))
    driver.get(kiosk_url)
    assert upload_and_wait(driver, path) == "VALID"
    assert issued.licence.holder.name in driver.find_element(By.ID, "v-holder").text  # disclosed in full
    fields = driver.find_element(By.ID, "v-fields")
    assert fields.is_displayed()
    row = fields.find_element(By.CSS_SELECTOR, "[data-key=vehicle_classes]")
    assert "准驾车型" in row.text and "C1" in row.text
    assert "出示" in driver.find_element(By.ID, "v-fields-title").text
    verdict = driver.find_element(By.ID, "verdict").text
    assert "*" not in verdict  # no stray mask character for the withheld holder code
    shot(driver, tmp_path, "presentation-disclosed", record_property)
    reset_with_escape(driver)


def test_check_button_visible_at_1280x800(driver, kiosk_url, world, tmp_path, record_property) -> None:  # type: ignore[no-untyped-def]
    """A desktop-sized kiosk screen: the paste box's 核验 button and the upload control need no scrolling."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.set_window_size(1280, 800)
    try:
        driver.get(kiosk_url)
        WebDriverWait(driver, 10).until(lambda d: "#" in d.find_element(By.ID, "trust").text)
        height = driver.execute_script("return window.innerHeight")
        width = driver.execute_script("return window.innerWidth")
        assert width == 1280 and height <= 800
        for selector in ("#paste-form button[type=submit]", "#file-label", "#start-camera", "#paste"):
            rect = driver.execute_script(
                "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
                "return [r.top, r.bottom, r.left, r.right];",
                selector,
            )
            assert rect[0] >= 0 and rect[1] <= height and rect[2] >= 0 and rect[3] <= width, (selector, rect, height)
        shot(driver, tmp_path, "landscape-1280x800", record_property)
        driver.find_element(By.ID, "paste").send_keys(world.issued["business-licence-jinan"].qr_payload)
        driver.find_element(By.CSS_SELECTOR, "#paste-form button[type=submit]").click()
        WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "verdict").get_attribute("data-status"))
        assert driver.find_element(By.ID, "verdict").get_attribute("data-status") == "VALID"
        shot(driver, tmp_path, "landscape-1280x800-valid", record_property)
        reset_with_escape(driver)
    finally:
        driver.set_window_size(1080, 1920)
