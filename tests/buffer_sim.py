"""A trace-driven simulation of explicit buffers: the reference the mapping counts are tested against.

Written from the rules of ``model/accesses.py`` (module notes), not from its
code. The nest runs cycle by cycle (one cycle per value of the temporal loops;
all PEs in lockstep). Each tensor has a DRAM copy, one GLB buffer and one
buffer per PE. A buffer holds one tile; it is replaced at a cycle where a
temporal loop above its cut advances at or above the innermost loop above the
cut that its tensor depends on. Replacing a buffer loads exactly the words its
new tile will touch; every access is then checked to hit a buffer (nothing is
stored anywhere else) and the largest contents are reported, so a test can
compare them with the declared capacities.

Operands: a GLB fill reads DRAM and writes the GLB; a PE fill writes every
PE's buffer and reads each distinct word once from the GLB (multicast), which
must hold it; each MAC reads its PE's copy. Outputs: a MAC writes its PE's
partial sum (reading it first unless it is the word's first MAC in this
residency); a PE drain reads every PE's partial sums and adds each distinct
word once into the GLB (read unless the word reaches the GLB for the first
time, then write); a GLB drain reads its words and writes DRAM; a GLB fill
fetches back from DRAM the words DRAM already holds.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from model.accesses import Mapping
from model.loopnest import addresses


def _windows(m: Mapping, starts: np.ndarray, values: np.ndarray, dims, cut: int) -> np.ndarray:
    """Cycle indices where a buffer of a tensor with dimensions ``dims`` cut at ``cut`` is replaced (cycle 0 first)."""
    loops = m.nest.loops
    relevant = [i for i in range(cut) if loops[i].dim in dims and loops[i].bound > 1]
    inner = max(relevant, default=-1)
    temporal = values[starts][:, : m.temporal]
    out = [0]
    for j in range(1, len(starts)):
        changed = np.nonzero(temporal[j] != temporal[j - 1])[0]
        if changed.size and changed[0] <= inner:
            out.append(j)
    return np.array(out)


def simulate(m: Mapping) -> dict:
    """Words per level and tensor, ``{level: {tensor: (reads, writes)}}``, and the largest buffer contents.

    Returns
    -------
    dict
        ``{"words": ..., "largest": {"GLB": {tensor: words}, "PE": {tensor: words}}, "cycles": int}``.
    """
    nest = m.nest
    values = nest.loop_values()
    dims = nest.dim_values(values)
    T = m.temporal
    temporal = values[:, :T]
    first = np.ones(len(values), bool)
    first[1:] = (np.diff(temporal, axis=0) != 0).any(axis=1)
    starts = np.nonzero(first)[0]
    ends = np.append(starts[1:], len(values))
    spatial = values[:, T:]
    pe_of = [tuple(row) for row in spatial]
    words = {lv: {t.name: [0, 0] for t in nest.tensors} for lv in ("REG", "RF", "NoC", "GLB", "DRAM")}
    largest = {"GLB": {}, "PE": {}}
    for t in nest.tensors:
        keep = m.of(t.name)
        addr, inside = addresses(t, dims)
        addr = np.broadcast_to(addr, (len(values),))
        inside = np.broadcast_to(inside, (len(values),))
        glb_new = set(_windows(m, starts, values, t.dims, keep.glb).tolist())
        pe_new = set(_windows(m, starts, values, t.dims, keep.pe).tolist())
        pe_level = str(keep.level)
        w = words

        def window_words(j0: int, marks: set, per_pe: bool):
            """Words touched from cycle j0 up to the next replacement (per PE or all together)."""
            j1 = j0 + 1
            while j1 < len(starts) and j1 not in marks:
                j1 += 1
            rows = range(starts[j0], ends[j1 - 1])
            if per_pe:
                out = defaultdict(set)
                for i in rows:
                    if inside[i]:
                        out[pe_of[i]].add(int(addr[i]))
                return out
            return {int(addr[i]) for i in rows if inside[i]}

        glb, pes = set(), {}
        big_glb = big_pe = 0
        if t is not nest.output:
            for j in range(len(starts)):
                if j in glb_new:
                    glb = window_words(j, glb_new, False)
                    w["DRAM"][t.name][0] += len(glb)
                    w["GLB"][t.name][1] += len(glb)
                    big_glb = max(big_glb, len(glb))
                if j in pe_new:
                    pes = window_words(j, pe_new, True)
                    union = set().union(*pes.values()) if pes else set()
                    assert union <= glb, f"{t.name}: PEs need words the GLB does not hold at cycle {j}"
                    w["GLB"][t.name][0] += len(union)
                    for held in pes.values():
                        w["NoC"][t.name][0] += len(held)
                        w[pe_level][t.name][1] += len(held)
                        big_pe = max(big_pe, len(held))
                for i in range(starts[j], ends[j]):
                    if inside[i]:
                        assert int(addr[i]) in pes[pe_of[i]], f"{t.name}: a MAC misses its PE buffer at cycle {j}"
                        w[pe_level][t.name][0] += 1
        else:
            in_dram, arrived, residency = set(), set(), defaultdict(set)

            def drain_pes():
                union = set()
                for held in residency.values():
                    w["NoC"][t.name][0] += len(held)
                    w[pe_level][t.name][0] += len(held)
                    union |= held
                assert union <= glb, f"{t.name}: partial sums arrive for words the GLB does not hold"
                for word in union:
                    w["GLB"][t.name][0] += word in arrived
                    w["GLB"][t.name][1] += 1
                    arrived.add(word)
                residency.clear()

            def drain_glb():
                w["GLB"][t.name][0] += len(glb)
                w["DRAM"][t.name][1] += len(glb)
                in_dram.update(glb)

            for j in range(len(starts)):
                if j in pe_new and j:
                    drain_pes()
                if j in glb_new:
                    if j:
                        drain_glb()
                    glb = window_words(j, glb_new, False)
                    back = len(glb & in_dram)
                    w["DRAM"][t.name][0] += back
                    w["GLB"][t.name][1] += back
                    big_glb = max(big_glb, len(glb))
                for i in range(starts[j], ends[j]):
                    held, word = residency[pe_of[i]], int(addr[i])
                    if word in held:
                        w[pe_level][t.name][0] += 1
                    w[pe_level][t.name][1] += 1
                    held.add(word)
                    big_pe = max(big_pe, len(held))
            drain_pes()
            drain_glb()
        largest["GLB"][t.name], largest["PE"][t.name] = big_glb, big_pe
    return {"words": {lv: {k: tuple(v) for k, v in per.items()} for lv, per in words.items()},
            "largest": largest, "cycles": len(starts)}
