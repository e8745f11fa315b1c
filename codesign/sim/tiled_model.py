"""The loop-tiled accelerator's per-layer model (Zhang et al. FPGA'15; Ma et al. FPGA'17 / TVLSI'18),
vectorised over designs × layers × tile candidates.

One engine runs the layers one after another. It unrolls the convolution loops into a
Pof × Pif × Pox × Poy array of MAC units (Zhang: Tm × Tn = Pof × Pif; Ma: Pox × Poy × Pof) and keeps
three ping-pong (double) buffers in block RAM: input pixels (Pif·Pox·Poy banks), weights (Pof·Pif banks) and
outputs (Pof banks). Partial sums stay on chip (the input-channel loop is innermost), so outputs are
written to DRAM once. Per layer and tile choice (Tof, Tif, Tox, Toy):

    compute cycles = K² · ⌈Nif/Pif⌉ · ⌈Nox/Pox⌉ · ⌈Noy/Poy⌉ · ⌈Nof/Pof⌉      (tiles are multiples of P)
    DRAM words     = inputs re-read per output-map tile, weights re-read per pixel tile, unless the
                     other operand is fully buffered; the cheaper of the two loop orders (Ma FPGA'17).
                     With the 'aligned' DRAM layout, channels are padded to whole Pof-wide words
                     (feature maps) and Pof x Pif blocks (weights); 'packed' stores them densely.
    layer time     = max(compute, DRAM bytes / bandwidth) + first-tile load + last-tile store
                     (double buffering overlaps transfers with compute; Ma's MATLAB model)

The tile choice minimises max(compute, transfer) time, then DRAM bytes, then the fill/drain time,
under the buffer capacities; candidate tiles are P·2^j (j = 0..5) or the whole loop dimension.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict

import numpy as np

# Tile-size candidates per loop dimension: the unroll factor times 2^j, or the whole dimension (code
# FULL). Absolute sizes (not tile counts) keep the model monotone: a smaller layer can always use the
# clamped tiles of a larger one, so shrinking a layer never makes its best tiling worse.
FULL = 64
SIZES = (1, 2, 4, 8, 16, 32, FULL)
SPATIAL_PAIRS = tuple((x, y) for x in SIZES for y in SIZES
                      if abs(SIZES.index(x) - SIZES.index(y)) <= 1)


def _candidates():
    g_of, g_if, g_xy = np.meshgrid(SIZES, SIZES, np.arange(len(SPATIAL_PAIRS)), indexing="ij")
    xy = np.array(SPATIAL_PAIRS)[g_xy.ravel()]
    return g_of.ravel(), g_if.ravel(), xy[:, 0], xy[:, 1]


CAND_OF, CAND_IF, CAND_X, CAND_Y = _candidates()


@dataclass(frozen=True)
class Problems:
    """Unique convolution-like problems (dense layers are 1×1 convolutions on a 1×1 map), shape (U,)."""

    nof: np.ndarray
    nif: np.ndarray       # per group
    nox: np.ndarray
    noy: np.ndarray
    kh: np.ndarray
    kw: np.ndarray
    stride: np.ndarray
    in_h: np.ndarray
    in_w: np.ndarray
    groups: np.ndarray
    density: np.ndarray
    first: np.ndarray     # 1 when the layer reads the network input (stored packed by the host)


def words_per_block(bits: float, block_bits: int) -> int:
    """Words of ``bits`` one block RAM holds in its widest fitting power-of-two configuration."""
    return int(2 ** np.floor(np.log2(block_bits / bits)))


def blocks(words, banks, bits: float, block_bits: int):
    """Blocks for a ping-pong buffer of ``words`` per copy split over ``banks`` parallel banks; both
    copies of a bank share its blocks when they fit (at least one block per bank)."""
    per = words_per_block(bits, block_bits)
    return banks * np.ceil(2 * np.ceil(words / banks) / per)


def _tile(n, p, size):
    """Tile size: ``size`` times the unroll factor (FULL: the whole dimension), at most n."""
    return np.where(size == FULL, n, np.minimum(n, size * p))


def _lexargmin(first, second, third):
    """Index (last axis, kept) of the smallest ``first``, ties (1e-9 relative) broken by ``second``
    then ``third``: Zhang FPGA'15's rule, highest performance first, then the least DRAM traffic."""
    near = first <= first.min(axis=2, keepdims=True) * (1 + 1e-9)
    second = np.where(near, second, np.inf)
    near &= second <= second.min(axis=2, keepdims=True) * (1 + 1e-9)
    return np.argmin(np.where(near, third, np.inf), axis=2)[..., None]


def _dram_bytes(U, P, env, n_of, n_if, n_px, in_tile_px):
    """(bytes read, bytes written, maps-outer loop order chosen, bytes per weight) of every candidate."""
    nif_d, nof_d, nif_w = U["nif"], U["nof"], U["nif"]
    if env["aligned"]:      # channel-vector DRAM layout: maps in Pof-channel words, weights in Pof x Pif blocks
        nof_d = np.ceil(U["nof"] / P["pof"]) * P["pof"]
        nif_d = np.where(U["first"] > 0, U["nif"], np.ceil(U["nif"] / P["pof"]) * P["pof"])
        nif_w = np.ceil(U["nif"] / P["pif"]) * P["pif"]
    in_pass = nif_d * n_px * in_tile_px                      # input words read once per pass (halo included)
    w_all = nof_d * nif_w * U["kh"] * U["kw"]
    one_if = n_if == 1
    in_a = in_pass * np.where(one_if, 1, n_of)                          # pixel tiles outer
    w_a = w_all * np.where(one_if & (n_of == 1), 1, n_px)
    in_b = in_pass * np.where(one_if & (n_px == 1), 1, n_of)            # output-map tiles outer
    w_b = w_all * np.where(one_if, 1, n_px)
    w_scale = env["w_bytes"] * (U["density"] * (1 + env["index_bits"] / env["w_bits"]) if env["zero_skip"] else 1.0)
    bytes_a = in_a * env["a_bytes"] + w_a * w_scale
    bytes_b = in_b * env["a_bytes"] + w_b * w_scale
    read = np.minimum(bytes_a, bytes_b) * U["groups"]
    write = nof_d * U["nox"] * U["noy"] * env["a_bytes"] * U["groups"]
    return read, write, bytes_b < bytes_a, w_scale


def evaluate(pr: Problems, d: Dict[str, np.ndarray], env: Dict[str, float]) -> Dict[str, np.ndarray]:
    """Best tiling of every problem on every design. ``d``: arrays of shape (D,) with pof, pif, pox,
    poy and cap_in, cap_w, cap_out (blocks per buffer, both copies). ``env``: f, bw, a_bytes, w_bytes,
    a_bits, w_bits, block_bits, zero_skip, index_bits, overhead, aligned. Returns arrays of shape (D, U)."""
    P = {k: np.asarray(v, dtype=float)[:, None, None] for k, v in d.items()}
    U = {k: np.asarray(getattr(pr, k), dtype=float)[None, :, None] for k in Problems.__dataclass_fields__}
    t_of = _tile(U["nof"], P["pof"], CAND_OF[None, None, :])
    t_if = _tile(U["nif"], P["pif"], CAND_IF[None, None, :])
    t_ox = _tile(U["nox"], P["pox"], CAND_X[None, None, :])
    t_oy = _tile(U["noy"], P["poy"], CAND_Y[None, None, :])
    n_of, n_if = np.ceil(U["nof"] / t_of), np.ceil(U["nif"] / t_if)
    n_px = np.ceil(U["nox"] / t_ox) * np.ceil(U["noy"] / t_oy)
    t_ix = np.minimum(U["in_w"], (t_ox - 1) * U["stride"] + U["kw"])
    t_iy = np.minimum(U["in_h"], (t_oy - 1) * U["stride"] + U["kh"])
    in_tile, w_tile, out_tile = t_if * t_ix * t_iy, t_of * t_if * U["kh"] * U["kw"], t_of * t_ox * t_oy
    bb = env["block_bits"]
    use_in = blocks(in_tile, P["pif"] * P["pox"] * P["poy"], env["a_bits"], bb)
    use_w = blocks(w_tile, P["pof"] * P["pif"], env["w_bits"], bb)
    use_out = blocks(out_tile, P["pof"], env["a_bits"], bb)
    fits = (use_in <= P["cap_in"]) & (use_w <= P["cap_w"]) & (use_out <= P["cap_out"])
    read, write, order_b, w_scale = _dram_bytes(U, P, env, n_of, n_if, n_px, t_ix * t_iy)
    cycles = (U["kh"] * U["kw"] * np.ceil(U["nif"] / P["pif"]) * np.ceil(U["nox"] / P["pox"]) *
              np.ceil(U["noy"] / P["poy"]) * np.ceil(U["nof"] / P["pof"]))
    if env["zero_skip"]:
        cycles = np.ceil(cycles * U["density"])
    cycles = (cycles + env["overhead"] * n_of * n_if * n_px) * U["groups"]
    t_comp = cycles / env["f"]
    t_mem = (read + write) / env["bw"]
    t_fill = (in_tile * env["a_bytes"] + w_tile * w_scale + out_tile * env["a_bytes"]) / env["bw"]
    t_main = np.where(fits, np.maximum(t_comp, t_mem), np.inf)
    t = t_main + t_fill
    best = _lexargmin(t_main, np.broadcast_to(read + write, t.shape), np.broadcast_to(t_fill, t.shape))
    pick = lambda a: np.take_along_axis(np.broadcast_to(a, t.shape), best, axis=2)[..., 0]  # noqa: E731
    return {"time": pick(t), "read": pick(read), "write": pick(np.broadcast_to(write, t.shape)),
            "cycles": pick(cycles), "t_comp": pick(t_comp), "t_mem": pick(t_mem),
            "tof": pick(t_of), "tif": pick(t_if), "tox": pick(t_ox), "toy": pick(t_oy),
            "order_b": pick(order_b), "use_in": pick(use_in), "use_w": pick(use_w), "use_out": pick(use_out)}
