"""The HTML reports render in a real browser with every plot decoded (headless Chromium).

Needs Debian's chromium: `make test-browser` installs it and runs these tests; elsewhere they are
skipped, as the browser is not part of the Python set-up.
"""

import re
import shutil
import subprocess

import pytest

from inference.config import EvaluateConfig
from training.evaluate import evaluate

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")]

PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  document.title = "decoded " + images.filter(i => i.complete && i.naturalWidth > 0).length + " of " + images.length;
});
</script>"""


def decoded_images(html_path, tmp_path) -> tuple[int, int]:
    probe = tmp_path / "probe.html"
    probe.write_text(html_path.read_text().replace("</body>", PROBE + "</body>"))
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    match = re.search(r"<title>decoded (\d+) of (\d+)</title>", result.stdout)
    assert match, result.stderr[-2000:]
    return int(match.group(1)), int(match.group(2))


def test_evaluation_report_plots_render(tiny_bundle, tiny_pairs, tmp_path):
    out = tmp_path / "report"
    evaluate(EvaluateConfig.model_validate({"model": str(tiny_bundle), "sets": {"tiny": str(tiny_pairs)},
                                            "output_dir": str(out), "bootstrap": 50}), show_progress=False)
    decoded, total = decoded_images(out / "report.html", tmp_path)
    assert total == 6 and decoded == total
