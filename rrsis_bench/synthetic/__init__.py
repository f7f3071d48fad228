"""Procedurally generated RRSIS data in every raw layout the builders read.

Aerial-like scenes (ground textures, roads, water; vehicles, buildings, storage tanks, ships,
courts, ... with colour, size and orientation) with exact masks, and referring expressions from
a small grammar whose masks are correct by construction: single-, multi- and no-target.
Written as RefSegRS, RRSIS-D, NWPU-Refer or RISBench would ship them, quirks included, so the
same files exercise the builders, the scorer and the demo without any download.

Modules: :mod:`~rrsis_bench.synthetic.categories` (what scenes are made of),
:mod:`~rrsis_bench.synthetic.geometry` and :mod:`~rrsis_bench.synthetic.raster` (polygons and
masks), :mod:`~rrsis_bench.synthetic.render` (painting), :mod:`~rrsis_bench.synthetic.scene`
(composition), :mod:`~rrsis_bench.synthetic.placement` (where objects go),
:mod:`~rrsis_bench.synthetic.grammar` (expressions),
:mod:`~rrsis_bench.synthetic.refer` and :mod:`~rrsis_bench.synthetic.phrase` (layout writers),
:mod:`~rrsis_bench.synthetic.generate` (the entry point).

Example:
    >>> from rrsis_bench.synthetic import generate, LAYOUTS
    >>> sorted(LAYOUTS)
    ['nwpu-refer', 'phrase', 'refsegrs', 'rrsis-d']
    >>> result = generate("nwpu-refer", "/tmp/nwpu-demo", n_images=6, size=128)  # doctest: +SKIP
"""

from __future__ import annotations

from rrsis_bench.synthetic.base import Layout, SceneTask, TruthExpression
from rrsis_bench.synthetic.generate import (
    BUILDER_OF_LAYOUT,
    LAYOUTS,
    SynthResult,
    generate,
    get_layout,
)

__all__ = [
    "BUILDER_OF_LAYOUT",
    "LAYOUTS",
    "Layout",
    "SceneTask",
    "SynthResult",
    "TruthExpression",
    "generate",
    "get_layout",
]
