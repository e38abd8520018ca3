"""The `levytts serve` page in a real browser: uvicorn on a free loopback port, headless Chromium via selenium.

Skipped (with the reason) when selenium, chromium or chromedriver is missing; scripts/setup.sh installs them
(Debian packages chromium and chromium-driver, selenium in the dev extra), so CI runs it.
"""
import shutil

import pytest

pytest.importorskip("fastapi", reason="levytts serve needs the serve extra: pip install 'levytts[serve]'")
pytest.importorskip("uvicorn", reason="levytts serve needs the serve extra: pip install 'levytts[serve]'")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the dev extra has it)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip("no headless browser: install the Debian packages chromium and chromium-driver (scripts/setup.sh does)",
                allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from levytts.serve.app import create_app, serve_in_thread  # noqa: E402


def chromium_driver(width: int = 1000, height: int = 1400):
    """Headless Chromium driven by the system chromedriver (selenium-manager never downloads anything)."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--autoplay-policy=no-user-gesture-required", f"--window-size={width},{height}"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))


@pytest.fixture(scope="module")
def server_url():
    from levytts.tts.synth import load_demo_voice

    url, stop = serve_in_thread(create_app(load_demo_voice()))
    yield url
    stop()


@pytest.fixture(scope="module")
def browser():
    driver = chromium_driver()
    yield driver
    driver.quit()


def test_page_synthesises_plays_and_shows_the_mel(server_url, browser):
    browser.get(server_url + "/")
    wait = WebDriverWait(browser, 60, poll_frequency=0.2)
    wait.until(lambda d: d.find_element(By.ID, "status").text == "Ready.")
    speaker = Select(browser.find_element(By.ID, "speaker"))
    labels = [o.text for o in speaker.options]
    assert any(label.startswith("awb") and "rare" in label for label in labels), labels
    assert browser.find_element(By.ID, "steps").get_attribute("value") == "4"  # the demo voice's stored default
    speaker.select_by_value("slt")
    steps = browser.find_element(By.ID, "steps")
    steps.clear()
    steps.send_keys("2")
    text = browser.find_element(By.ID, "text")
    text.clear()
    text.send_keys("Hello there. This is a test of the web page.")
    browser.find_element(By.ID, "go").click()
    duration = wait.until(lambda d: d.execute_script(
        "const a = document.getElementById('audio');"
        "return a.src.startsWith('blob:') && a.readyState >= 1 && isFinite(a.duration) ? a.duration : null;"))
    assert 0.5 < duration < 10, duration  # the browser decoded the wav: about 2 s of speech
    assert browser.find_element(By.ID, "download").get_attribute("href").startswith("blob:")
    assert wait.until(lambda d: d.execute_script(
        "const m = document.getElementById('mel'); return m.complete && m.naturalWidth > 0;"))
    assert "RTF" in browser.find_element(By.ID, "info").text


def test_page_shows_the_library_error(server_url, browser):
    browser.get(server_url + "/")
    wait = WebDriverWait(browser, 30, poll_frequency=0.2)
    wait.until(lambda d: d.find_element(By.ID, "status").text == "Ready.")
    browser.find_element(By.ID, "text").clear()
    browser.find_element(By.ID, "go").click()
    wait.until(lambda d: "empty text" in d.find_element(By.ID, "status").text)
    assert "error" in browser.find_element(By.ID, "status").get_attribute("class")
