"""An independent, plain-Python decoder of COCO compressed RLE counts (the test oracle)."""

from __future__ import annotations


def reference_runs(counts: bytes) -> list[int]:
    """Run lengths of a counts string, one character at a time; ``ValueError`` if corrupt."""
    runs: list[int] = []
    p = 0
    n = len(counts)
    while p < n:
        x = 0
        k = 0
        more = True
        while more:
            if p >= n:
                raise ValueError("truncated RLE counts")
            c = counts[p] - 48
            if c < 0 or c > 63:
                raise ValueError("invalid character in RLE counts")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if k > 12:
            raise ValueError("value longer than 60 bits")
        if len(runs) > 2:
            x += runs[-2]
        runs.append(x)
    if any(r < 0 for r in runs):
        raise ValueError("negative run length in RLE counts")
    return runs
