"""What the whole page shares: result images without a Share button, and the page script that gives every
image its alt text, announces the answers, brings a photo's answer into view and opens a tab named in the link."""

from __future__ import annotations

import json

import gradio as gr

# The buttons gradio offers on an image, less "share", which works only on Hugging Face Spaces.
IMAGE_BUTTONS: list = ["download", "fullscreen"]

# Deep links: ?tab=NAME or #NAME opens the tab; the names people are likely to type map to the tabs' ids.
TAB_LINKS = {
    "photo": "photo",
    "cat": "photo",
    "digit": "digit",
    "digits": "digit",
    "draw": "digit",
    "learned": "learned",
    "gallery": "learned",
    "models": "models",
}

ANNOUNCED = ("#photo-summary", "#digit-summary")  # aria-live: a screen reader hears each new answer
SCROLLED_INTO_VIEW = ("#photo-summary",)  # on a narrow screen the answer lands below the fold: bring it up

_PAGE_JS = """
() => {
  const links = %(links)s, announced = %(announced)s, scrolled = %(scrolled)s;
  const labelOf = (element) => {
    const block = element.closest(".block, .form, .gallery-item, button");
    const labels = "[data-testid='block-label'], [data-testid='block-info'], .caption-label";
    const named = block && block.querySelector(labels);
    const text = named && named.textContent.trim();
    return text || element.closest("[aria-label]")?.getAttribute("aria-label") || "image";
  };
  const seen = new Map();
  const tend = () => {
    for (const img of document.querySelectorAll("img")) {
      if (!(img.getAttribute("alt") || "").trim()) img.setAttribute("alt", labelOf(img));
    }
    for (const button of document.querySelectorAll("button:not([aria-label])")) {
      if (button.textContent.trim()) continue;
      const img = button.querySelector("img");
      if (img) button.setAttribute("aria-label", img.getAttribute("alt") || labelOf(img));
    }
    for (const selector of announced) {
      const region = document.querySelector(selector);
      if (region && region.getAttribute("aria-live") !== "polite") {
        region.setAttribute("aria-live", "polite");
        region.setAttribute("role", "status");
      }
    }
    for (const selector of scrolled) {
      const answer = document.querySelector(selector);
      const text = answer ? answer.textContent.trim() : "";
      if (text && text !== seen.get(selector)) {
        const box = answer.getBoundingClientRect();
        if (box.top < 0 || box.bottom > window.innerHeight) answer.scrollIntoView({ block: "center" });
      }
      seen.set(selector, text);
    }
  };
  new MutationObserver(tend).observe(document.body, { childList: true, subtree: true, characterData: true });
  tend();
  // Enter or Space on the photo's drop zone opens the file chooser, as a click does
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" && event.key !== " ") return;
    const zone = event.target.closest && event.target.closest("#photo-input");
    const input = zone && zone.querySelector("input[type=file]");
    if (input && event.target.tagName !== "INPUT" && event.target.getAttribute("aria-label") === null) {
      event.preventDefault();
      input.click();
    }
  });
  const wanted = links[(new URLSearchParams(location.search).get("tab") || location.hash.slice(1)).toLowerCase()];
  if (wanted) {
    const open = () => {
      const button = document.getElementById("tab-" + wanted + "-button");
      if (!button) return false;
      button.click();
      return true;
    };
    if (!open()) {
      const waiting = new MutationObserver(() => open() && waiting.disconnect());
      waiting.observe(document.body, { childList: true, subtree: true });
    }
  }
}
"""

PAGE_JS = _PAGE_JS % {
    "links": json.dumps(TAB_LINKS),
    "announced": json.dumps(ANNOUNCED),
    "scrolled": json.dumps(SCROLLED_INTO_VIEW),
}


def combined_js(*scripts: str) -> str:
    """One page script (gradio takes one) that runs each `() => {...}` script in turn."""
    return "() => {\n" + "\n".join(f"({script.strip()})();" for script in scripts) + "\n}"


PAGE_CSS = """
#photo-instruction p { font-size: 1.15rem; margin: 0.2rem 0 0.4rem; }
#photo-summary p { font-size: 1.25rem; }
.convlens-legend { display: flex; align-items: center; gap: 0.5rem; font-size: 0.9rem; flex-wrap: wrap; }
.convlens-scale { flex: 1 1 8rem; min-width: 8rem; height: 0.8rem; border-radius: 0.2rem; border: 1px solid #8884;
  background: linear-gradient(to right, rgb(30, 110, 255), rgba(255, 255, 255, 0), rgb(255, 140, 0)); }
#models-report table, .convlens-models table { display: block; overflow-x: auto; max-width: 100%; }
#models-report th, .convlens-models th { white-space: nowrap; }
#render-image img { image-rendering: pixelated; }
/* the digit pad: only the brush (English labels; the Clear button below the pad starts again) */
#sketch button:is([aria-label='Pan'], [aria-label='Zoom out'], [aria-label='Zoom in'], [aria-label='Erase'],
  [aria-label='Color'], [aria-label='Brush Size']) { display: none; }
#example-photos .caption-label { white-space: normal; }
/* a refused photo: its toast says why and the page empties the answer, so no "Error" pill on the empty outputs */
#tab-photo .wrap:has(> .error) { display: none; }
"""


def shown_image(label: str, elem_id: str, height: int | str, alt: str) -> gr.Image:
    """A result image (not editable, served as the PNG it is) with alt text and no Share button."""
    return gr.Image(
        label=label,
        interactive=False,
        height=height,
        format="png",
        elem_id=elem_id,
        buttons=IMAGE_BUTTONS,
        alt_text=alt,
    )
