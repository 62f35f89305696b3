"""`v2p evaluate`'s report.html in a real headless browser (Debian
chromium): against a real server, the page loads with no console message,
every image on it decodes, the score and per-trial tables hold what the
evaluation printed, and a screenshot is written (the README shows one).

  report_test.py BIN_DIR SOURCE_DIR DATA_DIR SCREENSHOT_PNG
  (PYTHONPATH: build/python and tests/python)
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import voxel2pixel
from harness import start_server

BIN, SOURCE, DATA, SCREENSHOT = sys.argv[1:5]
MAT = os.path.join(DATA, "digit69", "digit69_28x28.mat")


def chromium(args, work):
    """Runs headless Debian chromium on `args`; returns (stdout, stderr)."""
    browser = shutil.which("chromium")
    if browser is None:
        raise RuntimeError("chromium is not installed (scripts/install_deps.sh installs it)")
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--user-data-dir=" + os.path.join(work, "browser"), "--virtual-time-budget=10000",
         "--enable-logging=stderr", "--v=0"] + args,
        capture_output=True, text=True, timeout=120)
    return done.stdout, done.stderr


class ReportTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="v2p_report_")
        cls.server, cls.address = start_server(BIN, cls.work)
        with voxel2pixel.Client(cls.address) as client:
            client.upload_dataset(os.path.join(SOURCE, "examples", "digit69_dataset.pbtxt"))
            client.train("digit69", "digit69_ridge", progress=False,
                         spec=os.path.join(SOURCE, "examples", "digit69_ridge.pbtxt"))
        cls.out = os.path.join(cls.work, "evaluation")
        printed = subprocess.run(
            [os.path.join(BIN, "v2p"), "evaluate", "--server", cls.address, "--model",
             "digit69_ridge", "--betas", MAT, "--var", "fmriTest", "--stimuli-var", "stimTest",
             "--out", cls.out], capture_output=True, text=True)
        if printed.returncode != 0:
            raise RuntimeError("v2p evaluate failed:\n" + printed.stdout + printed.stderr)
        cls.page = "file://" + os.path.join(cls.out, "report.html")
        cls.dom, cls.log = chromium(["--dump-dom", cls.page], cls.work)

    @classmethod
    def tearDownClass(cls):
        cls.server.terminate()
        cls.server.wait(timeout=60)
        shutil.rmtree(cls.work, ignore_errors=True)

    def test_the_page_loads_without_a_console_message_and_every_image_decodes(self):
        self.assertIn("</html>", self.dom)
        console = [line for line in self.log.splitlines() if ":CONSOLE" in line]
        self.assertEqual(console, [])
        total = re.search(r'data-images-total="(\d+)"', self.dom)
        loaded = re.search(r'data-images-loaded="(\d+)"', self.dom)
        self.assertIsNotNone(total, "the page's load check did not run")
        # The contact sheet, then a stimulus and a reconstruction per trial.
        self.assertEqual(int(total.group(1)), 1 + 2 * 10)
        self.assertEqual(loaded.group(1), total.group(1))

    def test_the_tables_hold_what_the_evaluation_wrote(self):
        with open(os.path.join(self.out, "metrics.json")) as f:
            metrics = json.load(f)
        scores = re.search(r'<table id="metrics">(.*?)</table>', self.dom, re.S)
        self.assertIsNotNone(scores)
        rows = re.findall(r"<tr><th>([^<]+)</th><td>([0-9.]+)", scores.group(1))
        self.assertEqual([name for name, _ in rows], ["reconstruction", "mean training image"])
        self.assertAlmostEqual(float(rows[0][1]), metrics["pcc"], places=3)
        self.assertAlmostEqual(float(rows[1][1]), metrics["baseline"]["pcc"], places=3)
        trials = re.findall(r'<td class="id">(sample_\d{3})</td>', self.dom)
        self.assertEqual(trials, ["sample_%03d" % i for i in range(10)])
        self.assertIn('id="timings"', self.dom)
        self.assertIn("decode: median", self.dom)

    def test_a_screenshot_is_taken(self):
        if os.path.exists(SCREENSHOT):
            os.remove(SCREENSHOT)
        chromium(["--screenshot=" + SCREENSHOT, "--window-size=1100,1900",
                  "--hide-scrollbars", self.page], self.work)
        with open(SCREENSHOT, "rb") as f:
            png = f.read()
        self.assertTrue(png.startswith(b"\x89PNG\r\n\x1a\n"))
        self.assertGreater(len(png), 20000)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
