"""Separation grids, measured: quality per backend and stem, grid overhead, latency, memory.

The set is built here (benchmarks/_multitrack.py): General MIDI pieces whose parts (drums,
bass, chords as "other", a voice-patch melody as "vocals") are rendered one by one with
FluidSynth, so the true stems are known; the mix is their sum.

Quality is the plain signal-to-distortion ratio of the MDX challenges,
``SDR = 10 log10(sum s^2 / sum (s - s_hat)^2)`` over both channels (not mir_eval's BSS-eval,
which also forgives a distortion filter), averaged over pieces. Two bounds are computed in the
same run: the floor (the mix itself as the estimate) and the ceiling (the oracle ratio mask
``|S_j| / sum_k |S_k|`` at the same STFT size, 2048/512). The goal is that the best weightless
backend, and the best cell of a quick grid, each close at least half of the distance from floor
to ceiling.

Grid overhead: wall time of the quick grid (GridRun, hints included) against the sum of the same
cells run one by one by direct calls (separate + residual + hints), in the same process.
Latency: time from starting a quick grid on a 30 s clip to its first result, in a fresh process
(cold) and in this one (warm). Memory: peak resident set size of a fresh process running the
quick grid over a 10-minute track (a piece tiled), results dropped as they arrive.

Run: .venv/bin/python benchmarks/separation.py [--pieces 3] [--seconds 20] [--deep] [--no-memory]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _multitrack import STEMS, Piece, build_set

from residue.dsp import hints, spectral
from residue.dsp import separation as sep
from residue.services import separation as grid


def sdr(ref: np.ndarray, est: np.ndarray) -> float:
    """10 log10(|s|^2 / |s - s_hat|^2) in dB over all channels."""
    num = float(np.sum(ref.astype(np.float64) ** 2))
    den = float(np.sum((ref.astype(np.float64) - est) ** 2))
    return 10.0 * np.log10((num + 1e-12) / (den + 1e-12))


def bounds(piece: Piece) -> tuple[dict[str, float], dict[str, float]]:
    """Floor (mix as estimate) and ceiling (oracle ratio mask) SDR per stem."""
    n = piece.mix.shape[-1]
    X = spectral.stft(piece.mix)
    mags = {k: np.abs(spectral.stft(v)) for k, v in piece.stems.items()}
    total = np.sum(list(mags.values()), axis=0) + 1e-10
    floor = {k: sdr(v, piece.mix) for k, v in piece.stems.items()}
    ceiling = {
        k: sdr(v, spectral.istft(X * (mags[k] / total), length=n)) for k, v in piece.stems.items()
    }
    return floor, ceiling


def run_grid(piece: Piece, spec: grid.GridSpec) -> tuple[dict[str, float], dict[str, str], float]:
    """Run a grid; return SDR per cell (vs its target stem), cell labels, and the wall time."""
    scores: dict[str, float] = {}
    labels: dict[str, str] = {}
    run = grid.GridRun(spec, piece.mix, piece.sr, source=piece.name)
    t0 = time.perf_counter()
    for r in run.results():
        labels[r.cell.cell_id] = f"{r.cell.setting}|{r.cell.stem}"
        if r.status == "done" and r.cell.stem in piece.stems and r.estimate is not None:
            scores[r.cell.cell_id] = sdr(piece.stems[r.cell.stem], r.estimate)
        elif r.status != "done":
            print(f"  {r.cell.cell_id} {r.cell.setting} {r.cell.stem}: {r.status} {r.error}")
    return scores, labels, time.perf_counter() - t0


def direct_cells(piece: Piece, spec: grid.GridSpec, *, grouped: bool) -> float:
    """The same cells by direct calls (one backend pass per cell, or per setting if grouped)."""
    cells = grid.expand(spec)
    y, sr = piece.mix, piece.sr
    t0 = time.perf_counter()
    D = spectral.stft(y)
    groups: dict[str, list[grid.Cell]] = defaultdict(list)
    for c in cells:
        groups[c.group_key if grouped else c.cell_id].append(c)
    for members in groups.values():
        first = members[0]
        out = sep.separate_stems(
            D,
            sr=sr,
            backend=first.backend,
            stems=[c.stem for c in members],
            length=y.shape[-1],
            params=first.params,
        )
        for c in members:
            est = out[c.stem].estimate
            res = y - est
            others = [v.estimate for k, v in out.items() if k != c.stem]
            hints.describe(est, sr=sr, others=[res, *others])
            hints.describe(res, sr=sr, others=[est])
    return time.perf_counter() - t0


CHILD_LATENCY = """
import sys, time, numpy as np, soundfile as sf
y, sr = sf.read(sys.argv[1], dtype="float32", always_2d=True)
y = np.ascontiguousarray(y.T)
from residue.services import separation as grid
t0 = time.perf_counter()
run = grid.GridRun(grid.preset("quick"), y, sr, source="clip")
first = None
for r in run.results():
    if first is None:
        first = time.perf_counter() - t0
        print(f"FIRST {first:.3f} {r.cell.setting} {r.cell.stem}")
print(f"TOTAL {time.perf_counter() - t0:.3f}")
"""

CHILD_MEMORY = """
import resource, sys, time, numpy as np, soundfile as sf
y, sr = sf.read(sys.argv[1], dtype="float32", always_2d=True)
minutes = float(sys.argv[2])
n = int(minutes * 60 * sr)
long = np.empty((y.shape[1], n), dtype=np.float32)
for i in range(0, n, y.shape[0]):
    long[:, i : i + y.shape[0]] = y.T[:, : n - i]
y = long
from residue.services import separation as grid
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
run = grid.GridRun(grid.preset("quick"), y, sr, source="long")
first = None
n = 0
for r in run.results():
    n += 1
    if first is None:
        first = time.perf_counter() - t0
    if r.status != "done":
        print("CELL", r.cell.cell_id, r.status, r.error)
    del r
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"MEM {y.shape[1] / sr:.1f} {base / 1024:.1f} {peak / 1024:.1f} "
      f"{time.perf_counter() - t0:.1f} {first:.1f} {n} {y.nbytes / 2**20:.1f}")
"""


def child(code: str, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True
    )
    return out.stdout


def table(rows: dict[str, dict[str, list[float]]], stems: tuple[str, ...]) -> None:
    width = max(len(r) for r in rows) + 2
    print("".ljust(width) + "".join(s.rjust(10) for s in stems))
    for name, per in rows.items():
        cells = []
        for s in stems:
            v = per.get(s)
            cells.append(f"{np.mean(v):10.2f}" if v else "         -")
        print(name.ljust(width) + "".join(cells))


def quality(pieces: list[Piece], spec: grid.GridSpec, title: str) -> dict[str, float]:
    rows: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    best: dict[str, list[float]] = defaultdict(list)
    floors: dict[str, list[float]] = defaultdict(list)
    ceils: dict[str, list[float]] = defaultdict(list)
    walls = []
    for piece in pieces:
        floor, ceiling = bounds(piece)
        scores, labels, wall = run_grid(piece, spec)
        walls.append(wall)
        per_stem: dict[str, float] = {}
        for cid, value in scores.items():
            setting, stem = labels[cid].split("|")
            rows[setting][stem].append(value)
            per_stem[stem] = max(per_stem.get(stem, -np.inf), value)
        for s in STEMS:
            floors[s].append(floor[s])
            ceils[s].append(ceiling[s])
            if s in per_stem:
                best[s].append(per_stem[s])
    all_rows = {"floor (mix)": floors, "ceiling (oracle IRM)": ceils, **rows}
    print(
        f"\n{title}: SDR in dB, mean over {len(pieces)} pieces "
        f"(grid wall {np.mean(walls):.1f} s per {pieces[0].mix.shape[-1] / pieces[0].sr:.0f} s "
        "piece)"
    )
    table(all_rows, STEMS)
    print(
        "best-of-grid".ljust(max(len(r) for r in all_rows) + 2)
        + "".join(f"{np.mean(best[s]):10.2f}" for s in STEMS)
    )
    fr = {
        s: (np.mean(best[s]) - np.mean(floors[s])) / (np.mean(ceils[s]) - np.mean(floors[s]))
        for s in STEMS
    }
    print(
        "closed".ljust(max(len(r) for r in all_rows) + 2)
        + "".join(f"{100 * fr[s]:9.0f}%" for s in STEMS)
    )
    # Best single weightless setting per stem (one column of the grid).
    best_setting = {}
    for s in STEMS:
        name, vals = max(
            ((k, v[s]) for k, v in rows.items() if v.get(s)), key=lambda kv: np.mean(kv[1])
        )
        best_setting[s] = (name, float(np.mean(vals)))
    print(
        "best single setting per stem: "
        + ", ".join(
            f"{s}: {n} {v:.2f} dB ({100 * (v - np.mean(floors[s])) / (np.mean(ceils[s]) - np.mean(floors[s])):.0f}% closed)"  # noqa: E501
            for s, (n, v) in best_setting.items()
        )
    )
    x = float(np.mean([np.mean(best[s]) for s in STEMS]))
    f = float(np.mean([np.mean(floors[s]) for s in STEMS]))
    c = float(np.mean([np.mean(ceils[s]) for s in STEMS]))
    print(
        f"best-of-grid SDR: {x:.2f} dB (floor {f:.2f}, ceiling {c:.2f})"
        f"  [{title}; mean over stems; {100 * (x - f) / (c - f):.0f}% of the distance closed]"
    )
    return {"best": x, "floor": f, "ceiling": c}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pieces", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--deep", action="store_true", help="also score the deep preset")
    ap.add_argument("--no-memory", action="store_true", help="skip the 10-minute memory run")
    ap.add_argument("--only-memory", action="store_true", help="only the 10-minute memory run")
    ap.add_argument("--minutes", type=float, default=10.0)
    args = ap.parse_args()

    t0 = time.perf_counter()
    pieces = build_set(n_pieces=args.pieces, duration_s=args.seconds)
    print(
        f"set: {len(pieces)} pieces x {args.seconds:g} s at {pieces[0].sr} Hz, stereo "
        f"({time.perf_counter() - t0:.1f} s to build or read)"
    )

    quick = grid.preset("quick")
    piece = pieces[0]
    if not args.only_memory:
        quality(pieces, quick, "quick grid")
        # The melody backend is not in the quick preset (it shares HPSS's defaults): score it alone.
        melody = grid.GridSpec("melody", (grid.Sweep("melody", {}, grid.PRESET_STEMS),))
        quality(pieces, melody, "melody backend (defaults)")
        if args.deep:
            quality(pieces, grid.preset("deep"), "deep grid (weightless; no demucs weights here)")
        overhead(piece, quick)
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip30.wav"
        y = np.concatenate([p.mix for p in pieces] * 2, axis=1)[:, : 30 * piece.sr]
        sf.write(clip, y.T, piece.sr, subtype="FLOAT")
        if not args.only_memory:
            latency(clip, y, piece.sr, quick)
        if not args.no_memory:
            memory(clip, args.minutes)
    print(
        f"(this process: peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}"
        " MiB)"
    )


def overhead(piece: Piece, quick: grid.GridSpec) -> None:
    """Grid against direct calls, alternating, best of 3 (wall and CPU time)."""
    walls: dict[str, list[float]] = defaultdict(list)
    cpus: dict[str, list[float]] = defaultdict(list)
    for _ in range(3):
        for name, fn in (
            ("grid", lambda: run_grid(piece, quick)),
            ("direct", lambda: direct_cells(piece, quick, grouped=False)),
            ("grouped", lambda: direct_cells(piece, quick, grouped=True)),
        ):
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            walls[name].append(time.perf_counter() - w0)
            cpus[name].append(time.process_time() - c0)
    g, d, dg = (min(walls[k]) for k in ("grid", "direct", "grouped"))
    cg, cd, cdg = (min(cpus[k]) for k in ("grid", "direct", "grouped"))
    print(
        f"\ngrid wall {g:.2f} s; {len(grid.expand(quick))} cells called one by one "
        f"{d:.2f} s; same cells grouped by setting {dg:.2f} s (best of 3; CPU "
        f"{cg:.1f} / {cd:.1f} / {cdg:.1f} s)"
    )
    print(
        f"grid overhead: {100 * (g - d) / d:.0f}%  (negative: the grid runs each backend "
        "setting once for all its stems)"
    )
    print(
        f"grid machinery overhead against the same grouping: {100 * (g - dg) / dg:.1f}% wall, "
        f"{100 * (cg - cdg) / cdg:.1f}% CPU"
    )


def latency(clip: Path, y: np.ndarray, sr: int, quick: grid.GridSpec) -> None:
    """Time to the first result on a 30 s clip: a fresh process (cold) and this one (warm)."""
    out = child(CHILD_LATENCY, str(clip))
    first = next(line for line in out.splitlines() if line.startswith("FIRST")).split()
    total = next(line for line in out.splitlines() if line.startswith("TOTAL")).split()
    t0 = time.perf_counter()
    warm = None
    for _r in grid.GridRun(quick, y, sr, source="clip").results():
        warm = time.perf_counter() - t0
        break
    print(
        f"\nfirst result of a quick grid on a 30 s stereo clip: {float(first[1]):.2f} s cold "
        f"(fresh process; first cell '{' '.join(first[2:])}'), {warm:.2f} s warm; "
        f"whole grid {float(total[1]):.1f} s cold"
    )


def memory(clip: Path, minutes: float) -> None:
    """Peak RSS of a fresh process running the quick grid over a long track."""
    out = child(CHILD_MEMORY, str(clip), str(minutes))
    for line in out.splitlines():
        if line.startswith("CELL"):
            print(line)
    mem = next(line for line in out.splitlines() if line.startswith("MEM")).split()
    dur, base, peak, wall, first_s, n, audio_mb = mem[1:]
    print(
        f"peak memory, quick grid over a {float(dur) / 60:.0f}-minute stereo track: "
        f"{float(peak):.0f} MiB RSS (before the grid {float(base):.0f} MiB; the mix "
        f"itself {float(audio_mb):.0f} MiB); {n} cells in {float(wall):.0f} s, "
        f"first after {float(first_s):.1f} s"
    )


if __name__ == "__main__":
    main()
