"""What every figure must show (issue 18), checked on matplotlib's objects, not pixels.

- a title in words (the figure's suptitle, else its axes' titles);
- on every axes that draws data, an x and a y label (shared axes: once), each
  with its unit in parentheses unless the quantity is a count or a name;
- a labelled colourbar for every image (images on one colour scale may share one).
"""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import pytest

# Quantities without a unit: counts, indices and names (a closed list, so a
# forgotten unit on a physical quantity still fails).
UNITLESS = re.compile(
    r"^(epoch|training examples?|training examples \(.*\)|time step.*|population|"
    r"observation variable|principal component \d|\w+ neuron|.*\(index\).*)$"
)
WORDS = re.compile(r"[A-Za-z]{2,}")


def _is_colorbar(ax) -> bool:
    return hasattr(ax, "_colorbar")


def _draws_data(ax) -> bool:
    return (
        ax.get_visible()
        and ax.axison
        and not _is_colorbar(ax)
        and bool(ax.lines or ax.images or ax.collections or ax.patches)
    )


def _grid_line(ax, axis: str) -> list:
    """Axes of the same grid column (x) or row (y): small multiples label one of them."""
    spec = ax.get_subplotspec()
    if spec is None:
        return []
    span = (lambda s: s.colspan) if axis == "x" else (lambda s: s.rowspan)
    return [
        other
        for other in ax.figure.axes
        if other.get_subplotspec() is not None
        and other.get_subplotspec().get_gridspec() is spec.get_gridspec()
        and span(other.get_subplotspec()) == span(spec)
    ]


def _label(ax, axis: str) -> str:
    """The axis label of ``ax``, or of an axes it shares that axis or its grid line with."""
    shared = ax.get_shared_x_axes() if axis == "x" else ax.get_shared_y_axes()
    for other in [ax, *shared.get_siblings(ax), *_grid_line(ax, axis)]:
        text = other.get_xlabel() if axis == "x" else other.get_ylabel()
        if text:
            return text
    return ""


def _categorical(ax, axis: str) -> bool:
    """Tick labels that are names (populations, observation variables), not numbers."""
    ticks = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    texts = [t.get_text().replace("\u2212", "-") for t in ticks if t.get_text()]
    return bool(texts) and not all(re.fullmatch(r"[-+.\deE$^{}\\times ]+", t) for t in texts)


def problems(fig) -> list[str]:
    """Everything that keeps ``fig`` from being printed as it is; [] if nothing."""
    found = []
    title = fig._suptitle.get_text() if fig._suptitle is not None else ""
    if not title:
        title = " ".join(ax.get_title() for ax in fig.axes if _draws_data(ax))
    if len(WORDS.findall(title)) < 3:
        found.append(f"no title in words: {title!r}")
    images = [im for ax in fig.axes if ax.get_visible() for im in ax.images]
    bars = [im for im in images if im.colorbar is not None]
    for bar in bars:
        cax = bar.colorbar.ax
        if not (cax.get_ylabel() or cax.get_xlabel()):
            found.append("a colourbar without a label")
    for im in images:
        if not any(b.get_clim() == im.get_clim() and b.cmap.name == im.cmap.name for b in bars):
            found.append(f"an image without a colourbar (clim {im.get_clim()})")
    for ax in fig.axes:
        if not _draws_data(ax):
            continue
        for axis in "xy":
            text = _label(ax, axis)
            if not text:
                if not _categorical(ax, axis):
                    found.append(f"{axis} axis without a label in {ax.get_title()!r}")
                continue
            if not re.search(r"\([^)]+\)", text) and not UNITLESS.match(text.strip()):
                found.append(f"{axis} label {text!r} names no unit")
    return found


@pytest.fixture
def figures(monkeypatch):
    """The figures plotting code closes (``plt.close``), kept open for checking."""
    kept = []
    real_close = plt.close

    def keep(fig=None):
        if fig is not None and not isinstance(fig, str):
            kept.append(fig)
        else:
            real_close(fig)

    monkeypatch.setattr(plt, "close", keep)
    yield kept
    for fig in kept:
        real_close(fig)
