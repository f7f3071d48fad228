"""Independent re-implementations of every protocol, written from the definitions.

Each function loops over samples the way the peer's evaluation code does (numpy / torch on
CPU, Python running sums), starting from masks, not from counts, and never calls
`rrsis_bench.metrics`. Used only by the tests.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch
from PIL import Image

THR = [0.5, 0.6, 0.7, 0.8, 0.9]


@dataclass
class RefSample:
    gt: np.ndarray
    pred: np.ndarray | None  # None: no mask given (no_target only)
    gt_empty: bool
    no_target: bool | None
    category: str = "none"


def _pil(m: np.ndarray, s: int) -> np.ndarray:
    if m.shape == (s, s):
        return (m != 0).astype(np.uint8)
    img = Image.fromarray((m != 0).astype(np.uint8), mode="L")
    return np.array(img.resize((s, s), Image.NEAREST))


def _letterbox(m: np.ndarray, size: int) -> np.ndarray:
    import cv2

    hh, ww = m.shape
    if ww > hh:
        new_w, new_h = size, int(hh * (size / ww))
    else:
        new_h, new_w = size, int(ww * (size / hh))
    r = cv2.resize((m != 0).astype(np.uint8), (new_w, new_h), interpolation=cv2.INTER_NEAREST)
    ph, pw = size - new_h, size - new_w
    return cv2.copyMakeBorder(
        r, ph // 2, ph - ph // 2, pw // 2, pw - pw // 2, cv2.BORDER_CONSTANT, value=0
    )


def prepare(
    samples: list[RefSample], how: str, size: int | None, nt_as_empty: bool
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(pred, gt) pairs on the evaluation grid; an explicit no_target empties the mask if asked."""
    out = []
    for s in samples:
        pred = np.zeros_like(s.gt) if s.pred is None or (nt_as_empty and s.no_target) else s.pred
        if how == "pil":
            out.append((_pil(pred, size), _pil(s.gt, size)))
        elif how == "letterbox":
            out.append((_letterbox(pred, size), _letterbox(s.gt, size)))
        else:
            out.append(((pred != 0).astype(np.uint8), (s.gt != 0).astype(np.uint8)))
    return out


def native(samples: list[RefSample]) -> dict[str, float | None]:
    """METRICS.md `native`, with exact fractions."""
    si = su = 0
    ious: list[Fraction] = []
    tp = fn = fp = tn = 0
    for s in samples:
        p = s.pred if s.pred is not None else np.zeros_like(s.gt)
        i = int(((p != 0) & (s.gt != 0)).sum())
        u = int(((p != 0) | (s.gt != 0)).sum())
        nt = s.no_target if s.no_target is not None else not (p != 0).any()
        if s.gt_empty:
            if nt:
                tp += 1
                ious.append(Fraction(1))
            else:
                fn += 1
                su += u
                ious.append(Fraction(0))
        else:
            if nt:
                fp += 1
                i = 0
            else:
                tn += 1
            si += i
            su += u
            ious.append(Fraction(i, u) if u else Fraction(0))
    n = len(samples)
    res: dict[str, float | None] = {
        "oiou": float(Fraction(100) * si / su) if su else None,
        "miou": float(Fraction(100) * sum(ious) / n),
    }
    for t in THR:
        res[f"pr@{t:g}"] = float(Fraction(100 * sum(1 for v in ious if v >= Fraction(str(t))), n))
    if tp + fn:
        res["n_acc"] = 100 * tp / (tp + fn)
        res["t_acc"] = 100 * tn / (tn + fp) if tn + fp else None
    else:
        res["n_acc"] = res["t_acc"] = None
    return res


def lavt(pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float | None]:
    cum_i, cum_u, ious = 0, 0, []
    seg_correct = np.zeros(5, dtype=np.int32)
    for p, g in pairs:
        i = np.sum(np.logical_and(p, g))
        u = np.sum(np.logical_or(p, g))
        this = 0.0 if u == 0 else i * 1.0 / u
        ious.append(this)
        cum_i += i
        cum_u += u
        for k, t in enumerate(THR):
            seg_correct[k] += this >= t
    res = {
        "miou": float(np.mean(np.array(ious)) * 100.0),
        "oiou": float(cum_i * 100.0 / cum_u) if cum_u else None,
    }
    for k, t in enumerate(THR):
        res[f"pr@{t:g}"] = float(seg_correct[k] * 100.0 / len(pairs))
    return res


def lgce(pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float | None]:
    acc, cum_i, cum_u = 0.0, 0, 0
    seg_correct = np.zeros(5, dtype=np.int32)
    for p, g in pairs:
        pt, gt = torch.from_numpy(p.astype(np.int64)), torch.from_numpy(g.astype(np.int64))
        inter = torch.sum(torch.mul(pt, gt))
        union = torch.sum(torch.add(pt, gt)) - inter
        iou = 0 if inter == 0 or union == 0 else float(inter) / float(union)
        acc += iou
        cum_i = cum_i + inter
        cum_u = cum_u + union
        for k, t in enumerate(THR):
            seg_correct[k] += iou >= t
    res = {"miou": 100 * (acc / len(pairs)), "oiou": float(100 * (cum_i / cum_u))}
    res["printed_oiou"] = float((cum_i * 100.0 / cum_u) - 1)
    for k, t in enumerate(THR):
        res[f"pr@{t:g}"] = float(seg_correct[k] * 100.0 / len(pairs))
    return res


def caris(pairs: list[tuple[np.ndarray, np.ndarray]], batch: int = 8) -> dict[str, float | None]:
    thr = [0.5, 0.7, 0.9]
    acc = torch.zeros(1)
    cum_i, cum_u = torch.zeros(1), torch.zeros(1)
    seg_correct = torch.zeros(len(thr))
    for start in range(0, len(pairs), batch):
        chunk = pairs[start : start + batch]
        p = torch.from_numpy(np.stack([c[0].ravel() for c in chunk]).astype(np.int64))
        g = torch.from_numpy(np.stack([c[1].ravel() for c in chunk]).astype(np.int64))
        inter = torch.logical_and(p, g).sum(1)
        union = torch.logical_or(p, g).sum(1)
        iou = inter.float() / union.float()
        acc += iou.sum()
        cum_i += inter.sum()
        cum_u += union.sum()
        for k, t in enumerate(thr):
            seg_correct[k] += (iou >= t).sum()
    n = len(pairs)
    miou = acc.numpy() / n
    sc = seg_correct.numpy()
    res = {
        "miou": float((miou * 100.0)[0]),
        "oiou": float((cum_i.numpy() * 100.0 / cum_u.numpy())[0]),
    }
    for k, t in enumerate(thr):
        res[f"pr@{t:g}"] = float(sc[k] * 100.0 / n)
    return {k: (None if v is not None and v != v else v) for k, v in res.items()}


def gres(
    pairs: list[tuple[np.ndarray, np.ndarray]], samples: list[RefSample]
) -> dict[str, float | None]:
    accum_i, accum_u, accum_iou = 0.0, 0.0, 0.0
    pr = {t: 0 for t in (0.7, 0.8, 0.9)}
    total = not_empty = empty = 0
    nt = {"TP": 0, "TN": 0, "FP": 0, "FN": 0}
    for (p, g), s in zip(pairs, samples, strict=True):
        i, u = np.sum(np.logical_and(p, g)), np.sum(np.logical_or(p, g))
        pred_nt = s.no_target if s.no_target is not None else not p.any()
        if s.gt_empty:
            empty += 1
            if pred_nt:
                nt["TP"] += 1
                accum_iou += 1
            else:
                nt["FN"] += 1
                accum_u += int(u)
        else:
            if pred_nt:
                nt["FP"] += 1
                i = 0
            else:
                nt["TN"] += 1
            this = float(0) if u == 0 else float(i) / float(u)
            accum_iou += this
            accum_i += i
            accum_u += u
            not_empty += 1
            for t in pr:
                if this >= t:
                    pr[t] += 1
        total += 1
    res: dict[str, float | None] = {
        "miou": 100.0 * (accum_iou / total),
        "oiou": float(accum_i * 100.0 / accum_u) if accum_u else None,
    }
    if empty:
        res["t_acc"] = 100 * nt["TN"] / (nt["TN"] + nt["FP"]) if nt["TN"] + nt["FP"] else None
        res["n_acc"] = 100 * nt["TP"] / (nt["TP"] + nt["FN"])
    else:
        res["t_acc"] = res["n_acc"] = 0.0
    for t in pr:
        res[f"pr@{t:g}"] = pr[t] * 100.0 / not_empty if not_empty else None
    return res


def segearth(pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float | None]:
    i_sum: object = 0
    u_sum: object = 0
    iou_sum: object = 0
    hits = {t: 0.0 for t in THR}
    for p, g in pairs:
        out = torch.from_numpy(p.astype(np.int32)).view(-1)
        tgt = torch.from_numpy(g.astype(np.int32)).view(-1)
        inter = out[out == tgt]
        # CUDA histc of int32 returns int32; CPU histc needs floats, so count in float and cast.
        a_i = torch.histc(inter.float(), bins=2, min=0, max=1).to(torch.int32)
        a_o = torch.histc(out.float(), bins=2, min=0, max=1).to(torch.int32)
        a_t = torch.histc(tgt.float(), bins=2, min=0, max=1).to(torch.int32)
        a_u = a_o + a_t - a_i
        inter_np, union_np = a_i.numpy(), a_u.numpy()
        acc_iou = inter_np / (union_np + 1e-5)
        acc_iou[union_np == 0] = 1.0
        i_sum = i_sum + inter_np * 1
        u_sum = u_sum + union_np * 1
        iou_sum = iou_sum + acc_iou * 1
        for t in THR:
            hits[t] += 1.0 if acc_iou[1] > t else 0.0
    n = len(pairs)
    ciou = (i_sum / (u_sum + 1e-10))[1]  # type: ignore[operator]
    res = {"oiou": float(ciou) * 100, "miou": float((iou_sum / n)[1]) * 100}  # type: ignore[operator]
    for t in THR:
        res[f"pr@{t:g}"] = hits[t] / n * 100
    return res


def rsrefseg(
    pairs: list[tuple[np.ndarray, np.ndarray]], categories: list[str]
) -> dict[str, float | None]:
    inters, unions = [], []
    for p, g in pairs:
        pt = torch.from_numpy(p.astype(np.int64)).view(-1)
        lt = torch.from_numpy(g.astype(np.int64)).view(-1)
        inter = pt[pt == lt]
        a_i = torch.histc(inter.float(), bins=2, min=0, max=1)
        a_p = torch.histc(pt.float(), bins=2, min=0, max=1)
        a_l = torch.histc(lt.float(), bins=2, min=0, max=1)
        inters.append(a_i)
        unions.append(a_p + a_l - a_i)
    ciou = sum(inters) / sum(unions)
    per_image = [a / b for a, b in zip(inters, unions, strict=True)]
    giou = sum(per_image) / len(per_image)
    res: dict[str, float | None] = {"oiou": ciou[1].item() * 100, "miou": giou[1].item() * 100}
    stacked = torch.stack(per_image)
    for t in THR:
        res[f"pr@{t:g}"] = ((stacked > t).sum(dim=0).float() / len(per_image))[1].item() * 100
    per_cls: dict[str, list[float]] = defaultdict(list)
    for cat, a_i, a_u in zip(categories, inters, unions, strict=True):
        i, u = a_i[-1].item(), a_u[-1].item()
        per_cls[cat].append(i / u if u > 0 else float("nan"))
    means = []
    for vals in per_cls.values():
        valid = [x for x in vals if x == x]
        if valid:
            means.append(sum(valid) * 100 / len(valid))
    res["category_miou"] = sum(means) / len(means) if means else None
    return {k: (None if v is not None and v != v else v) for k, v in res.items()}


def reference(
    protocol: str, samples: list[RefSample], resolution: int | None = None
) -> dict[str, float | None]:
    """Metrics of `protocol` on `samples` (already filtered by the protocol's sample policy)."""
    if protocol == "native":
        return native(samples)
    if protocol in ("lavt", "lgce"):
        pairs = prepare(samples, "pil", resolution or 480, True)
        return lavt(pairs) if protocol == "lavt" else lgce(pairs)
    if protocol == "caris":
        return caris(prepare(samples, "pil", resolution or 448, True))
    if protocol == "gres":
        return gres(prepare(samples, "pil", resolution or 480, False), samples)
    if protocol == "segearth-r1":
        return segearth(prepare(samples, "letterbox", resolution or 1024, True))
    if protocol == "rsrefseg":
        return rsrefseg(prepare(samples, "none", None, True), [s.category for s in samples])
    raise ValueError(protocol)
