"""Bit-exact golden convolutions: the literal loop nest, a fast vectorised one, and binary XNOR-popcount.

Layouts: activations NCHW, weights MCRS, outputs NMEF (int64). Integer
convolutions take signed integers of up to 16 bits; padding adds zeros.

Every convolution takes ``groups`` (G, default 1): the C input channels and
the M filters are split into G equal groups, the weights are
``(M, C/G, R, S)`` and filter ``m`` reads only the channels of its group
``g = m // (M/G)``, i.e. ``g*(C/G) .. (g+1)*(C/G) - 1``. Depthwise is
``G = C = M``.

Exactness of the fast path: :func:`conv2d_int` multiplies in float64 through
BLAS. Every operand is an integer of magnitude <= 2**15, so every product is
an integer <= 2**30 and every partial sum of a dot product of length K is an
integer <= K * 2**30. While that bound stays below 2**53 each partial sum is
exactly representable, so the result is exact whatever order BLAS sums in.
Longer reductions are split into chunks that respect the bound and the chunk
results are added in int64.

Binary layers (:func:`conv2d_binary`): values +1/-1 are stored as bits
(+1 -> 1, -1 -> 0). A padded position holds neither value; it is *excluded*
from the dot product (it contributes 0, and the count n of the identity
``2*popcount(XNOR) - n`` counts only real positions). The result therefore
equals the +1/-1 integer convolution with zero padding, and the hardware
does the same by masking padded positions instead of reading memory.
"""

from __future__ import annotations

import numpy as np

from model.validate import check_int

__all__ = ["conv2d_loops", "conv2d_int", "conv2d_binary", "conv2d_layer", "conv2d_float", "check_layer_operands", "check_operands", "pack_bits"]

_EXACT_LIMIT = 2**53  # float64 represents every integer of smaller magnitude exactly


def _check_array(name: str, a: object) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, not {type(a).__name__}")
    if a.ndim != 4:
        raise ValueError(f"{name} must have 4 dimensions ({'NCHW' if name == 'x' else 'MCRS'}), not shape {a.shape}")
    if not (np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_):
        raise TypeError(f"{name} must hold integers, not dtype {a.dtype}")
    return a


def _check_groups(C: int, M: int, w_channels: int, groups: int) -> None:
    """Raise unless ``groups`` divides C and M and each filter has ``C / groups`` channels."""
    check_int("groups", groups, 1)
    if C % groups or M % groups:
        raise ValueError(f"x has C={C} channels and w has M={M} filters; both must be multiples of groups={groups}")
    if C != w_channels * groups:
        need = "they must match" if groups == 1 else f"with groups={groups} it must be C/groups={C // groups}"
        raise ValueError(f"x has C={C} channels but w has C={w_channels}; {need}")


def check_operands(x: np.ndarray, w: np.ndarray, stride: int, pad: int, bits: int = 16,
                   groups: int = 1) -> tuple[int, int]:
    """Validate a convolution's operands and return the output size ``(E, F)``.

    Parameters
    ----------
    x : ndarray
        Input, NCHW, integer dtype.
    w : ndarray
        Weights, MCRS (``C/groups`` channels), integer dtype.
    stride, pad : int
        Window step (>= 1) and zero padding (>= 0).
    bits : int
        Signed width the values must fit, 2..16: each value must lie in
        ``[-2**(bits-1), 2**(bits-1) - 1]``.
    groups : int
        Channel groups (>= 1); C and M must be multiples of it.

    Raises
    ------
    TypeError, ValueError
        Naming the argument, the value and what is allowed.
    """
    _check_array("x", x)
    _check_array("w", w)
    check_int("stride", stride, 1)
    check_int("pad", pad, 0)
    check_int("bits", bits, 2, 16)
    _check_groups(x.shape[1], w.shape[0], w.shape[1], groups)
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    for name, a in (("x", x), ("w", w)):
        if a.size and (a.min() < lo or a.max() > hi):
            bad = a.min() if a.min() < lo else a.max()
            raise ValueError(f"{name} holds {int(bad)}, outside the signed {bits}-bit range {lo}..{hi}")
    R, S = w.shape[2:]
    H, W = x.shape[2:]
    if R > H + 2 * pad or S > W + 2 * pad:
        raise ValueError(
            f"kernel {R}x{S} is larger than the padded input {H + 2 * pad}x{W + 2 * pad} (H, W = {H}, {W}, pad={pad})"
        )
    return (H + 2 * pad - R) // stride + 1, (W + 2 * pad - S) // stride + 1


def conv2d_loops(x: np.ndarray, w: np.ndarray, stride: int = 1, pad: int = 0, groups: int = 1) -> np.ndarray:
    """The seven-loop convolution nest, in N, M, C, E, F, R, S order: the readable reference.

    ``out[n, m, e, f] += x[n, g*Cg + c, e*stride + r - pad, f*stride + s - pad] * w[m, c, r, s]``
    with ``Cg = C/groups`` channels per group, ``g = m // (M/groups)`` the group of
    filter ``m``, Python integers (no overflow) and padded positions read as zero.
    Slow: use it on small shapes only.

    Returns
    -------
    ndarray
        int64, NMEF.
    """
    E, F = check_operands(x, w, stride, pad, groups=groups)
    N, _, H, W = x.shape
    M, Cg, R, S = w.shape
    out = np.zeros((N, M, E, F), dtype=np.int64)
    for n in range(N):
        for m in range(M):
            first = (m // (M // groups)) * Cg  # first input channel of the filter's group
            for c in range(Cg):
                for e in range(E):
                    for f in range(F):
                        for r in range(R):
                            for s in range(S):
                                h, v = e * stride + r - pad, f * stride + s - pad
                                if 0 <= h < H and 0 <= v < W:
                                    out[n, m, e, f] += int(x[n, first + c, h, v]) * int(w[m, c, r, s])
    return out


def _windows(x: np.ndarray, R: int, S: int, stride: int, pad: int) -> np.ndarray:
    """Zero-padded sliding windows of ``x``: shape (N, C, E, F, R, S), a view where possible."""
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(x, (R, S), axis=(2, 3))
    return win[:, :, ::stride, ::stride]


def conv2d_int(x: np.ndarray, w: np.ndarray, stride: int = 1, pad: int = 0, groups: int = 1) -> np.ndarray:
    """Vectorised integer convolution, bit-identical to :func:`conv2d_loops`.

    Builds the im2col matrix once and multiplies it with the flattened
    weights in float64 BLAS (one batched product per group), in reduction
    chunks small enough that every partial sum is an exact integer (see the
    module notes).

    Parameters
    ----------
    x : ndarray
        Input, NCHW, signed integers of up to 16 bits.
    w : ndarray
        Weights, MCRS (``C/groups`` channels), signed integers of up to 16 bits.
    stride, pad : int
        Window step and zero padding.
    groups : int
        Channel groups.

    Returns
    -------
    ndarray
        int64, NMEF.
    """
    E, F = check_operands(x, w, stride, pad, groups=groups)
    N, C = x.shape[:2]
    M, Cg, R, S = w.shape
    G, K = groups, Cg * R * S
    # cols[g, (n, e, f), (c, r, s)] with c local to group g
    win = _windows(x, R, S, stride, pad).reshape(N, G, Cg, E, F, R, S)
    cols = win.transpose(1, 0, 3, 4, 2, 5, 6).reshape(G, N * E * F, K)
    wmat = w.reshape(G, M // G, K).transpose(0, 2, 1)  # g, k, m local
    peak = max(int(np.abs(x).max(initial=0)) * int(np.abs(w).max(initial=0)), 1)
    chunk = max(1, (_EXACT_LIMIT - 1) // peak)
    out = np.zeros((G, N * E * F, M // G), dtype=np.int64)
    for k0 in range(0, K, chunk):
        part = np.matmul(cols[:, :, k0:k0 + chunk].astype(np.float64), wmat[:, k0:k0 + chunk].astype(np.float64))
        out += part.astype(np.int64)
    return out.reshape(G, N, E, F, M // G).transpose(1, 0, 4, 2, 3).reshape(N, M, E, F).copy()


def pack_bits(bits: np.ndarray, axis: int = 1, word: int = 64) -> np.ndarray:
    """Pack a 0/1 array along ``axis`` into unsigned words of ``word`` bits.

    Channel ``c`` goes to word ``c // word``, bit ``c % word`` (LSB first);
    bits past the end of the axis are 0. This is the layout of the
    accelerator's binary buffers (with ``word`` = its ``pack``).

    Returns
    -------
    ndarray
        uint64, the same shape with ``axis`` shortened to ``ceil(len/word)``.
    """
    check_int("word", word, 1, 64)
    b = np.moveaxis(np.asarray(bits), axis, -1).astype(np.uint64)
    n = b.shape[-1]
    nwords = -(-n // word)
    b = np.concatenate([b, np.zeros(b.shape[:-1] + (nwords * word - n,), np.uint64)], axis=-1)
    b = b.reshape(b.shape[:-1] + (nwords, word))
    packed = (b << np.arange(word, dtype=np.uint64)).sum(axis=-1, dtype=np.uint64)
    return np.moveaxis(packed, -1, axis)


def _check_bits(name: str, a: object) -> np.ndarray:
    a = _check_array(name, a)
    if a.size and (a.min() < 0 or a.max() > 1):
        bad = a.min() if a.min() < 0 else a.max()
        raise ValueError(f"{name} holds {int(bad)}; binary layers store +1 as 1 and -1 as 0 (allowed 0..1)")
    return a


def conv2d_binary(x_bits: np.ndarray, w_bits: np.ndarray, stride: int = 1, pad: int = 0,
                  groups: int = 1) -> np.ndarray:
    """Binary (+1/-1) convolution by XNOR-popcount on packed 64-bit words.

    Each dot product is ``2 * popcount(XNOR(a, w)) - n`` where ``n`` counts
    the real (non-padded) channel-positions it covers; padded positions are
    excluded (see the module notes), so the result equals the +1/-1 integer
    convolution with zero padding. A grouped layer is the ungrouped
    convolution of each group's channels with the group's filters.

    Parameters
    ----------
    x_bits : ndarray
        Input bits, NCHW, values 0 (-1) or 1 (+1).
    w_bits : ndarray
        Weight bits, MCRS (``C/groups`` channels), values 0 (-1) or 1 (+1).
    stride, pad : int
        Window step and padding.
    groups : int
        Channel groups.

    Returns
    -------
    ndarray
        int64, NMEF.
    """
    _check_bits("x_bits", x_bits)
    _check_bits("w_bits", w_bits)
    E, F = check_operands(x_bits.astype(np.int8), w_bits.astype(np.int8), stride, pad, bits=2, groups=groups)
    if groups > 1:
        pairs = zip(np.split(x_bits, groups, axis=1), np.split(w_bits, groups, axis=0))
        return np.concatenate([conv2d_binary(xg, wg, stride, pad) for xg, wg in pairs], axis=1)
    N, C, H, W = x_bits.shape
    M, _, R, S = w_bits.shape
    xp = pack_bits(x_bits, axis=1)  # N, Cw, H, W
    wp = pack_bits(w_bits, axis=1)  # M, Cw, R, S
    nwords = xp.shape[1]
    channel_mask = pack_bits(np.ones((1, C, 1, 1), np.uint8), axis=1)[0, :, 0, 0]  # Cw
    # Real (non-padded) positions of the padded input.
    real = _windows(np.ones((1, 1, H, W), np.int64), R, S, stride, pad)[0, 0]  # E, F, R, S
    xwin = _windows(xp, R, S, stride, pad)  # N, Cw, E, F, R, S
    out = np.zeros((N, M, E, F), dtype=np.int64)
    for r in range(R):
        for s in range(S):
            for cw in range(nwords):
                a = xwin[:, cw, :, :, r, s][:, None]  # N, 1, E, F
                b = wp[:, cw, r, s][None, :, None, None]  # 1, M, 1, 1
                agree = np.bitwise_count(~(a ^ b) & channel_mask[cw]).astype(np.int64)
                out += agree * real[None, None, :, :, r, s]
    n_real = C * real.sum(axis=(2, 3))  # E, F
    return 2 * out - n_real[None, None]


def check_layer_operands(x: np.ndarray, w: np.ndarray, layer, bits: int) -> None:
    """Check that ``x`` and ``w`` have ``layer``'s shapes and hold values of ``bits``.

    ``bits=1`` means binary bits (0/1); otherwise signed ``bits``-bit integers.

    Raises
    ------
    TypeError, ValueError
        Naming the operand, the value or shape, and what is allowed.
    """
    for name, a, shape in (("x", x, layer.input_shape), ("w", w, layer.weight_shape)):
        if getattr(a, "shape", None) != shape:
            raise ValueError(f"{name} has shape {getattr(a, 'shape', None)}, but layer {layer} needs {shape}")
    if bits == 1:
        _check_bits("x", x)
        _check_bits("w", w)
    else:
        check_operands(x, w, layer.stride, layer.pad, bits, layer.groups)


def conv2d_layer(x: np.ndarray, w: np.ndarray, layer, bits: int) -> np.ndarray:
    """Golden output of ``layer`` for operands of ``bits`` (1 = binary bits, else signed integers).

    Checks the operands (:func:`check_layer_operands`), then dispatches to
    :func:`conv2d_binary` or :func:`conv2d_int` with the layer's stride, pad and groups.
    """
    check_layer_operands(x, w, layer, bits)
    if bits == 1:
        return conv2d_binary(x, w, layer.stride, layer.pad, layer.groups)
    return conv2d_int(x, w, layer.stride, layer.pad, layer.groups)


def conv2d_float(x: np.ndarray, w: np.ndarray, stride: int = 1, pad: int = 0, groups: int = 1) -> np.ndarray:
    """Real-valued convolution in float64, by summing one shifted input slice per kernel tap.

    A formulation independent of :func:`conv2d_int` (no im2col, no chunking):
    the reference for integer paths and for quantization error.

    Parameters
    ----------
    x : ndarray
        Input, NCHW, any real dtype.
    w : ndarray
        Weights, MCRS (``C/groups`` channels), any real dtype.
    groups : int
        Channel groups.

    Returns
    -------
    ndarray
        float64, NMEF.
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"need x NCHW and w MCRS, not shapes {x.shape} and {w.shape}")
    check_int("stride", stride, 1)
    check_int("pad", pad, 0)
    _check_groups(x.shape[1], w.shape[0], w.shape[1], groups)
    N, C, H, W = x.shape
    M, Cg, R, S = w.shape
    E, F = (H + 2 * pad - R) // stride + 1, (W + 2 * pad - S) // stride + 1
    if E < 1 or F < 1:
        raise ValueError(f"kernel {R}x{S} is larger than the padded input {H + 2 * pad}x{W + 2 * pad}")
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))).reshape(N, groups, Cg, H + 2 * pad, W + 2 * pad)
    wg = w.reshape(groups, M // groups, Cg, R, S)
    out = np.zeros((N, groups, M // groups, E, F))
    for r in range(R):
        for s in range(S):
            patch = xp[..., r:r + stride * (E - 1) + 1:stride, s:s + stride * (F - 1) + 1:stride]
            out += np.einsum("ngchw,gmc->ngmhw", patch, wg[..., r, s])
    return out.reshape(N, M, E, F)
