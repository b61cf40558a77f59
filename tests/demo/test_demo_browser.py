"""The demo in a real browser (Debian's chromium driven by Playwright): upload a photo, draw a
digit with the mouse (no tool chosen first), load an example digit, open the gallery and the Models
tab; screenshots go to tests/artifacts/.

With CI=true a missing chromium fails these tests (`make browser` installs it); elsewhere they skip.
"""

import json
import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

import demo_support as support
import pytest
from demo_support import chelsea_path

from demo.example_digits import EXAMPLE_STROKES
from demo.limits import CANVAS

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).parent.parent / "artifacts"
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def export_with_gallery(small_export, tmp_path_factory) -> Path:
    """The small export plus example photos, the class list and a two-image gallery, as the export and
    `convlens visualize` write them."""
    export = tmp_path_factory.mktemp("browser") / "exported"
    shutil.copytree(small_export, export, ignore=shutil.ignore_patterns("gallery"))  # the browser's own gallery
    support.add_examples_and_classes(export)
    support.add_colour_imagenet(export)  # the real small models, with an "ImageNet" network that reads colours
    gallery = export / "gallery"
    gallery.mkdir()
    support.half_red_half_blue(128, 128).save(gallery / "class_284_robust.png")
    support.solid(support.BLUE, (128, 128)).save(gallery / "filter_0.png")
    (gallery / "index.json").write_text(
        json.dumps(
            [
                {
                    "file": "class_284_robust.png",
                    "title": "Siamese cat (robust)",
                    "caption": "ImageNet class 284 maximised",
                    "kind": "class",
                    "method": "robust",
                    "model": "mobilenet",
                    "probabilities": {"as_rendered": {"Siamese cat": 0.91}, "under_transforms": {"Siamese cat": 0.64}},
                },
                {
                    "file": "filter_0.png",
                    "title": "conv_pw_5 filter 0",
                    "caption": "one filter maximised",
                    "kind": "filters",
                    "method": "naive",
                    "model": "mobilenet",
                },
            ]
        )
    )
    return export


@pytest.fixture(scope="module")
def served(export_with_gallery, tmp_path_factory):
    with support.served_app(export_with_gallery, tmp_path_factory.mktemp("browser_demo")) as url:
        yield url


@pytest.fixture
def page(chromium, served):
    context = chromium.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    outside = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if urlparse(request.url).hostname not in (None, "", "127.0.0.1", "localhost")
            else None
        ),
    )
    page.goto(served)
    page.wait_for_selector("#photo-input")
    yield page
    context.close()
    assert outside == [], f"the page reached outside localhost: {outside[:5]}"


def _screenshot(page, name: str, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"demo_{name}.png"), full_page=full_page)


def _label_text(page, selector: str) -> str:
    """The top label a gr.Label shows (its heading), once it shows one."""
    return page.locator(f"{selector} h2, {selector} .output-class").first.inner_text().strip()


def _wait_for_label(page, selector: str, pattern: str) -> None:
    """Wait until the gr.Label's heading matches a JavaScript regular expression."""
    page.wait_for_function(f"""() => {{ const h = document.querySelector('{selector} h2, {selector} .output-class');
                                        return h !== null && /{pattern}/.test(h.innerText.trim()); }}""")


def test_upload_a_photo_and_read_the_label(page):
    page.set_input_files("#photo-input input[type=file]", str(chelsea_path()))
    _wait_for_label(page, "#photo-label", "^(cat|dog|neither)$")
    verdict = _label_text(page, "#photo-label")
    assert verdict in ("cat", "dog", "neither")
    assert verdict in page.locator("#photo-summary").inner_text().lower()  # the sentence agrees with the label
    page.get_by_text("Details: what each network said").click()
    assert "The cats-vs-dogs model alone" in page.locator("#photo-details").inner_text()  # collapsed until opened
    page.locator("#photo-seen img").wait_for()
    page.locator("#photo-map img").wait_for()
    _screenshot(page, "photo")


def test_a_photo_of_neither_shows_the_verdict_the_imagenet_top5_and_the_map(page, tmp_path):
    green = tmp_path / "lawn.jpg"
    support.solid(support.GREEN, (400, 300)).save(green)  # the colour "ImageNet" network sees an elephant
    page.set_input_files("#photo-input input[type=file]", str(green))
    _wait_for_label(page, "#photo-label", "^neither$")
    page.get_by_text("Details: what each network said").click()
    _wait_for_label(page, "#photo-imagenet", "^African elephant")
    page.locator("#photo-map img").wait_for()
    page.locator("#photo-seen img").wait_for()
    assert "African elephant" in page.locator("#photo-summary").inner_text()
    _screenshot(page, "photo_neither")


def test_a_bad_upload_shows_its_message_and_the_next_photo_works(page, tmp_path):
    corpus = support.bad_inputs(tmp_path)
    page.set_input_files("#photo-input input[type=file]", str(corpus["text_renamed.jpg"][0]))
    toast = page.locator("[data-testid='toast-text']").filter(has_text="is a text file")
    toast.first.wait_for(state="visible")
    _screenshot(page, "bad_upload", full_page=False)  # the toast is fixed to the viewport
    page.locator("#photo-input button[aria-label='Remove Image']").first.click()
    page.set_input_files("#photo-input input[type=file]", str(chelsea_path()))
    _wait_for_label(page, "#photo-label", "^(cat|dog|neither)$")


def _stroke(page, box, points, steps=15) -> None:
    """Drag the mouse through points given as fractions of the canvas."""
    (x, y), rest = points[0], points[1:]
    page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
    page.mouse.down()
    for x, y in rest:
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=steps)
    page.mouse.up()


def _drawing_area(page) -> dict:
    """The canvas's drawable square: centred in the editor, 400 px scaled by the zoom the toolbar shows."""
    editor = page.locator("#sketch canvas").first.bounding_box()
    zoom = page.locator("#sketch").get_by_text(re.compile(r"^\d+%$")).first.inner_text()
    side = CANVAS[0] * int(zoom.rstrip("%")) / 100
    return {
        "x": editor["x"] + (editor["width"] - side) / 2,
        "y": editor["y"] + (editor["height"] - side) / 2,
        "width": side,
        "height": side,
    }


def test_draw_a_digit_with_the_mouse_at_once_and_again_after_clearing(page):
    """A first-time user's strokes draw with no tool chosen first, on a tab hidden when the page loaded."""
    page.get_by_role("tab", name="Draw a digit").click()
    page.locator("#sketch canvas").first.wait_for()
    box = _drawing_area(page)
    _stroke(page, box, [(0.25, 0.15), (0.75, 0.15), (0.42, 0.88)])  # a 7, read live as the stroke ends
    _wait_for_label(page, "#digit-label", "^7$")
    _screenshot(page, "digit_live_7")
    page.locator("#sketch-clear").click()  # the visible Clear button
    page.wait_for_function("() => !document.querySelector('#digit-label h2, #digit-label .output-class')")
    _stroke(page, box, [(0.42, 0.22), (0.52, 0.12), (0.52, 0.88)])  # a 1 on the cleared canvas
    _wait_for_label(page, "#digit-label", "^1$")
    assert "reads **1**".replace("**", "") in page.locator("#digit-summary").inner_text()
    page.locator("#digit-seen img").wait_for()
    _screenshot(page, "digit")


def test_the_first_stroke_draws_in_another_language(chromium, served):
    """The brush is chosen by its place in the toolbar, not by its label, which gradio translates."""
    context = chromium.new_context(viewport={"width": 1280, "height": 1000}, locale="es-ES")
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(served)
        page.locator("[role=tab]").nth(1).click()  # the digit tab, whatever its translated name
        page.locator("#sketch canvas").first.wait_for()
        assert page.locator("#sketch button[aria-label='Pincel']").count() == 1  # the page speaks Spanish
        _stroke(page, _drawing_area(page), [(0.42, 0.22), (0.52, 0.12), (0.52, 0.88)])
        _wait_for_label(page, "#digit-label", "^1$")
    finally:
        context.close()


def test_click_an_example_digit_and_read_it_even_after_drawing(page):
    page.get_by_role("tab", name="Draw a digit").click()
    page.locator("#sketch canvas").first.wait_for()
    _stroke(page, _drawing_area(page), [(0.42, 0.22), (0.52, 0.12), (0.52, 0.88)])
    _wait_for_label(page, "#digit-label", "^1$")
    examples = page.locator("#digit-examples button")
    assert examples.count() == len(EXAMPLE_STROKES)
    examples.nth(sorted(EXAMPLE_STROKES).index("3")).click()  # the examples are listed in digit order
    _wait_for_label(page, "#digit-label", "^3$")
    _screenshot(page, "digit_example_3")


def test_open_the_gallery(page):
    page.get_by_role("tab", name="What the networks learned").click()
    gallery = page.locator("#gallery")
    gallery.locator("img").first.wait_for()
    assert gallery.locator("img").count() == 2
    gallery.locator("img").first.click()
    page.get_by_text("under small shifts").first.wait_for()
    assert "91.0%" in page.locator("#gallery-details").inner_text()
    _screenshot(page, "gallery")


def test_the_models_tab_reads_the_manifest_in_panels(page):
    page.get_by_role("tab", name="Models").click()
    report = page.locator("#models-report")
    report.get_by_text("Model catsdogs").first.click()
    report.get_by_text("ONNX fp32").first.wait_for()
    report.get_by_text("The export").first.click()
    report.get_by_text("make export", exact=False).first.wait_for()  # the panel opens with an animation
    text = report.inner_text()
    assert "catsdogs" in text and "digits" in text and "make export" in text
    assert "Trained by" not in text and "/tmp/" not in text  # no paths of the machine that exported
    assert "class 999" not in text  # the 1000 ImageNet labels stay behind their toggle
    _screenshot(page, "models")


# ---------------------------------------------------------------- the first five minutes, on a laptop and a phone

SIZES = {"laptop": {"width": 1400, "height": 1000}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=sorted(SIZES))
def sized_page(request, chromium, served):
    """The page at a laptop's and at a phone's size (touch on the phone), with the classify requests it sends."""
    phone = request.param == "phone"
    context = chromium.new_context(viewport=SIZES[request.param], has_touch=phone, is_mobile=phone)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.requests = []  # every request that joins gradio's queue: one per event the server runs
    page.on("request", lambda r: page.requests.append(r.post_data or "") if "/queue/join" in r.url else None)
    page.goto(served)
    page.wait_for_selector("#photo-input")
    page.size_name = request.param
    yield page
    context.close()


def _in_viewport(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    viewport = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"]


def _upload_and_wait(page, path) -> str:
    page.set_input_files("#photo-input input[type=file]", str(path))
    _wait_for_label(page, "#photo-label", "^(cat|dog|neither)$")
    page.wait_for_function("() => /%|Neither|Cat|Dog/.test(document.querySelector('#photo-summary').innerText)")
    return page.locator("#photo-summary").inner_text()


def test_the_instruction_is_visible_above_the_fold(sized_page):
    instruction = sized_page.locator("#photo-instruction")
    assert "Drop a pet photo" in instruction.inner_text()
    assert _in_viewport(sized_page, "#photo-instruction")
    _screenshot(sized_page, f"first_view_{sized_page.size_name}", full_page=False)


def test_after_an_upload_the_verdict_is_in_view_and_announced(sized_page):
    summary = _upload_and_wait(sized_page, chelsea_path())
    sized_page.wait_for_timeout(300)  # the page scrolls the answer into view once it lands
    assert _in_viewport(sized_page, "#photo-summary"), sized_page.locator("#photo-summary").bounding_box()
    live = sized_page.evaluate("() => [...document.querySelectorAll('[aria-live]')].map(e => e.innerText).join(' | ')")
    assert summary.strip() and summary.strip() in live
    _screenshot(sized_page, f"answer_{sized_page.size_name}", full_page=False)


def test_a_bad_file_clears_the_earlier_answer_with_one_request_and_one_toast(sized_page, tmp_path):
    _upload_and_wait(sized_page, chelsea_path())
    sized_page.requests.clear()
    text_file, _ = support.bad_inputs(tmp_path)["text_renamed.jpg"]
    sized_page.set_input_files("#photo-input input[type=file]", str(text_file))
    sized_page.locator("[data-testid='toast-text']").filter(has_text="is a text file").first.wait_for()
    sized_page.wait_for_timeout(1000)  # time for a second request or toast, were there one
    assert len(sized_page.requests) == 1, sized_page.requests
    assert sized_page.locator("[data-testid='toast-text']").count() == 1
    assert sized_page.locator("#photo-summary").inner_text().strip() == ""
    assert sized_page.locator("#photo-label h2, #photo-label .output-class").count() == 0
    assert sized_page.locator("#photo-map img").count() == 0


def test_every_image_has_alt_text_and_no_share_button(page):
    _upload_and_wait(page, chelsea_path())
    missing = []
    for tab in ("Cat or dog?", "Draw a digit", "What the networks learned", "Models"):
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(500)
        missing += page.evaluate(
            "() => [...document.querySelectorAll('img')].filter(i => !(i.getAttribute('alt') || '').trim())"
            ".map(i => i.src.slice(-40))"
        )
        unnamed = page.evaluate(
            "() => [...document.querySelectorAll('button')].filter(b => b.offsetParent && !b.innerText.trim()"
            " && !(b.getAttribute('aria-label') || b.getAttribute('title') || '').trim())"
            ".map(b => b.outerHTML.slice(0, 80))"
        )
        assert unnamed == [], f"{tab}: buttons without a name: {unnamed}"
    assert missing == []
    assert page.locator("button[aria-label*='Share' i], button[title*='Share' i]").count() == 0


def test_the_models_tab_is_shorter_than_3000_px(chromium, served):
    context = chromium.new_context(viewport=SIZES["laptop"])
    try:
        page = context.new_page()
        page.goto(f"{served}?tab=models")  # a deep link opens the tab
        page.locator("#models-report").wait_for()
        height = page.evaluate("() => document.documentElement.scrollHeight")
        assert height < 3000, height
    finally:
        context.close()


def test_a_deep_link_opens_its_tab(chromium, served):
    context = chromium.new_context(viewport=SIZES["laptop"])
    try:
        page = context.new_page()
        page.goto(f"{served}#digits")
        page.locator("#sketch canvas").first.wait_for()
        assert page.get_by_role("tab", name="Draw a digit").get_attribute("aria-selected") == "true"
    finally:
        context.close()


def test_an_example_photo_is_captioned_and_classified_in_one_request(page):
    examples = page.locator("#example-photos img")
    examples.first.wait_for()  # the gallery's images arrive after the page
    assert examples.count() >= 3 and "red dog" in page.locator("#example-photos").inner_text()  # captions
    page.requests = []
    page.on("request", lambda r: page.requests.append(r.url) if "/queue/join" in r.url else None)
    examples.first.click()
    _wait_for_label(page, "#photo-label", "^(cat|dog|neither)$")
    assert len(page.requests) == 2  # the example's file, then the one classification


def test_the_digit_pad_shows_a_clear_button_and_only_the_brush(page):
    page.get_by_role("tab", name="Draw a digit").click()
    page.locator("#sketch canvas").first.wait_for()
    assert page.get_by_role("button", name="Clear", exact=True).is_visible()
    assert not page.locator("#sketch button[aria-label='Erase']").is_visible()
    _stroke(page, _drawing_area(page), [(0.25, 0.15), (0.75, 0.15), (0.42, 0.88)])  # the first stroke draws
    _wait_for_label(page, "#digit-label", "^7$")
