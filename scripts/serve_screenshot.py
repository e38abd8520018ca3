#!/usr/bin/env python3
"""Screenshot of the `levytts serve` page for the docs (docs/figures/serve.png).

Starts the server with the bundled demo voice on a free loopback port, fills in the form in headless Chromium
(Debian packages chromium + chromium-driver, selenium from the dev extra), synthesises, waits for the audio and
the figures, and saves the page.

    .venv/bin/python scripts/serve_screenshot.py [--out docs/figures/serve.png]
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

TEXT = "Hello there. This page speaks with an alpha-stable diffusion decoder."


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/figures/serve.png")
    parser.add_argument("--speaker", default="awb")
    parser.add_argument("--sampler", default="sde-e")
    parser.add_argument("--eta", default="popov:0.1,0.3")
    args = parser.parse_args()

    import torch
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from levytts.serve.app import create_app, serve_in_thread
    from levytts.tts.synth import load_demo_voice

    torch.set_num_threads(1)
    url, stop = serve_in_thread(create_app(load_demo_voice()))
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1060,1300",
                "--hide-scrollbars"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(shutil.which("chromedriver")))
    try:
        driver.get(url + "/")
        wait = WebDriverWait(driver, 120, poll_frequency=0.2)
        wait.until(lambda d: d.find_element(By.ID, "status").text == "Ready.")
        text = driver.find_element(By.ID, "text")
        text.clear()
        text.send_keys(TEXT)
        Select(driver.find_element(By.ID, "speaker")).select_by_value(args.speaker)
        Select(driver.find_element(By.ID, "sampler")).select_by_value(args.sampler)
        eta = driver.find_element(By.ID, "eta")
        eta.clear()
        eta.send_keys(args.eta)
        driver.find_element(By.ID, "go").click()
        wait.until(lambda d: d.execute_script(
            "const a = document.getElementById('audio'), m = document.getElementById('mel'),"
            " e = document.getElementById('eta-curve');"
            "return a.readyState >= 1 && m.complete && m.naturalWidth > 0 && (e.hidden || (e.complete && e.naturalWidth > 0));"))
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1060, height + 40)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(out))
        print(f"wrote {out} ({driver.find_element(By.ID, 'info').text})")
    finally:
        driver.quit()
        stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
