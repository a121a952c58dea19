"""Demucs (the ``demucs`` package, 4.1.0) loaded from a local model folder, never downloaded.

A model folder (``RESIDUE_MODELS_DIR``) holds demucs's own files: ``<signature>-<checksum>.th``
weight files and, optionally, ``<name>.yaml`` bags that list signatures. The four published
models need these weight files (their bags ship inside the demucs package, so the ``.yaml`` may
be left out):

==============  ==========================================================================
htdemucs        955717e8-8726e21a.th
htdemucs_ft     f7e0c4bc-ba3fe64a.th d12395a8-e57c48e6.th 92cfc3b6-ef3bcb9c.th 04573f0d-f3cf25b2.th
htdemucs_6s     5c90dfd2-34c22ccb.th
mdx_extra       e51eebcc-c1b80bdd.th a1d90b5c-ae9d2452.th 5d2d6c55-db83574e.th cfa93e08-61801ae1.th
==============  ==========================================================================

(the exact names are read from the installed demucs package). Any other ``*.yaml`` bag or
``*.th`` file in the folder is listed too. :func:`load` turns every failure (missing, corrupt,
truncated or mismatching files; demucs calling ``sys.exit``) into
:class:`~residue.errors.ModelUnavailableError` whose message says what to do.
``demucs_unittest`` (a tiny random HDemucs built by demucs itself) needs no files: tests run the
real code path through it.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soxr
import torch

from residue.dsp._validate import check_audio, check_float, check_int
from residue.dsp.progress import CancelToken, ProgressFn, no_progress
from residue.dsp.separation import ParamSpec
from residue.dsp.spectral import DeviceLike, as_device
from residue.errors import ModelUnavailableError, ParameterError

KNOWN_MODELS: tuple[str, ...] = ("htdemucs", "htdemucs_ft", "htdemucs_6s", "mdx_extra")
"""Published models residue lists even when their files are absent."""
TEST_MODEL = "demucs_unittest"
"""demucs's tiny random model: always available, for tests only (its output is noise)."""
ENV_VAR = "RESIDUE_MODELS_DIR"
FOUR_STEMS: tuple[str, ...] = ("drums", "bass", "other", "vocals")
SIX_STEMS: tuple[str, ...] = ("drums", "bass", "other", "vocals", "guitar", "piano")
_KNOWN_SOURCES = {
    "htdemucs": FOUR_STEMS,
    "htdemucs_ft": FOUR_STEMS,
    "htdemucs_6s": SIX_STEMS,
    "mdx_extra": FOUR_STEMS,
    TEST_MODEL: FOUR_STEMS,
}
DEFAULT_SHIFTS = 1
DEFAULT_OVERLAP = 0.25

PARAMS: dict[str, ParamSpec] = {
    p.name: p
    for p in (
        ParamSpec("shifts", "int", DEFAULT_SHIFTS, 0, 20, doc="random time shifts averaged"),
        ParamSpec("overlap", "float", DEFAULT_OVERLAP, 0.0, 0.95, doc="overlap of model windows"),
        ParamSpec(
            "segment",
            "float",
            None,
            1.0,
            600.0,
            optional=True,
            doc="window length in seconds (null: the model's own)",
        ),
        ParamSpec("seed", "int", 0, 0, 2**31 - 1, doc="seed of the random shifts"),
    )
}
"""Parameters of :func:`separate` a grid may sweep (``model`` is chosen separately)."""


@dataclass(frozen=True)
class ModelInfo:
    """What :func:`list_models` knows about one model without loading it."""

    name: str
    available: bool
    reason: str | None
    """Why it is unavailable and where to put its files; None when available."""
    sources: tuple[str, ...]
    """Stems it produces (empty for a local model not loaded yet)."""
    files: tuple[str, ...]
    """Weight files it needs (names inside the model folder)."""


@dataclass(frozen=True)
class LoadedModel:
    """A demucs model ready for :func:`separate`."""

    name: str
    model: Any = field(repr=False)
    """``demucs.apply.BagOfModels`` or a single demucs model (a torch module in eval mode)."""
    sources: tuple[str, ...]
    samplerate: int
    audio_channels: int
    max_segment_s: float | None
    """Longest ``segment`` the model accepts (transformer models), None when unbounded."""


def _demucs_remote() -> Path:
    import demucs.pretrained

    return Path(demucs.pretrained.REMOTE_ROOT)


def _published_files() -> dict[str, str]:
    """Signature -> file name of every published weight file, from demucs's own list."""
    files: dict[str, str] = {}
    try:
        text = (_demucs_remote() / "files.txt").read_text()
    except OSError:
        return files
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("root:"):
            continue
        files[line.split("-", 1)[0]] = line
    return files


def _bag_signatures(path: Path) -> list[str]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"{path.name} is not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise ValueError(f"{path.name} has no 'models' list")
    return [str(s) for s in data["models"]]


def _local_weights(models_dir: Path) -> dict[str, Path]:
    """Signature -> weight file in the folder (``sig.th`` or ``sig-checksum.th``)."""
    found: dict[str, Path] = {}
    for f in sorted(models_dir.glob("*.th")):
        found[f.stem.rsplit("-", 1)[0] if "-" in f.stem else f.stem] = f
    return found


def _reason(name: str, need: str, models_dir: Path | None) -> str:
    if models_dir is None:
        return f"{name} is not installed: set {ENV_VAR} to a model folder holding {need}"
    if not models_dir.is_dir():
        return (
            f"{name} is not installed: the model folder {models_dir} ({ENV_VAR}) does not "
            f"exist; create it and put {need} in it"
        )
    return f"{name} is not installed: put {need} in {models_dir} ({ENV_VAR})"


def list_models(models_dir: Path | None) -> list[ModelInfo]:
    """List the published demucs models and any model found in ``models_dir``.

    Nothing is loaded: a model is "available" when all its weight files are present (a corrupt
    file is only found by :func:`load`).

    Parameters
    ----------
    models_dir : Path or None
        The local model folder (``RESIDUE_MODELS_DIR``); None when unset.

    Returns
    -------
    list of ModelInfo
        The known models first (available or not, with the reason), then local extras.

    Examples
    --------
    >>> [m.name for m in list_models(None)][:2]
    ['htdemucs', 'htdemucs_ft']
    """
    published = _published_files()
    folder = models_dir if models_dir is not None and models_dir.is_dir() else None
    local = _local_weights(folder) if folder is not None else {}
    out: list[ModelInfo] = []
    used: set[str] = set()
    for name in KNOWN_MODELS:
        try:
            sigs = _bag_signatures(_demucs_remote() / f"{name}.yaml")
        except (OSError, ValueError):
            sigs = []
        files = tuple(published.get(s, f"{s}.th") for s in sigs)
        missing = [published.get(s, f"{s}.th") for s in sigs if s not in local]
        used.update(sigs)
        if folder is not None and not missing and sigs:
            out.append(ModelInfo(name, True, None, _KNOWN_SOURCES[name], files))
            continue
        need = ", ".join(missing or files) or f"{name}.yaml and its weight files"
        reason = _reason(name, need, models_dir)
        out.append(ModelInfo(name, False, reason, _KNOWN_SOURCES[name], files))
    if folder is None:
        return out
    for bag in sorted(folder.glob("*.yaml")):
        if bag.stem in KNOWN_MODELS:
            continue
        try:
            sigs = _bag_signatures(bag)
        except (OSError, ValueError) as exc:
            out.append(ModelInfo(bag.stem, False, f"{bag} is not a demucs bag: {exc}", (), ()))
            continue
        used.update(sigs)
        missing = [s for s in sigs if s not in local]
        files = tuple(local[s].name if s in local else f"{s}.th" for s in sigs)
        bag_reason = (
            None
            if not missing
            else f"{bag.stem} needs weight files for {', '.join(missing)} in {folder}"
        )
        out.append(ModelInfo(bag.stem, not missing, bag_reason, (), files))
    for sig, path in local.items():
        if sig not in used:
            out.append(ModelInfo(sig, True, None, (), (path.name,)))
    return out


def _unavailable(name: str, models_dir: Path | None, exc: BaseException) -> ModelUnavailableError:
    detail = str(exc).strip() or type(exc).__name__
    where = f" in {models_dir}" if models_dir is not None else ""
    return ModelUnavailableError(
        f"demucs model {name!r}{where} could not be loaded ({type(exc).__name__}: {detail}); "
        f"its files may be corrupt or incomplete: replace them (folder: {ENV_VAR})"
    )


def load(name: str, *, models_dir: Path | None, device: DeviceLike = None) -> LoadedModel:
    """Load a demucs model from the local folder (or ``demucs_unittest``, which needs none).

    Parameters
    ----------
    name : str
        A name from :func:`list_models` or :data:`TEST_MODEL`.
    models_dir : Path or None
        The local model folder.
    device : str or torch.device or None
        Where the model will run.

    Returns
    -------
    LoadedModel

    Raises
    ------
    ModelUnavailableError
        If the model's files are absent, corrupt or unreadable (never another exception).
    ParameterError
        If ``device`` is not a torch device.
    """
    dev = as_device(device)
    if name != TEST_MODEL:
        infos = {m.name: m for m in list_models(models_dir)}
        info = infos.get(name)
        if info is None and models_dir is not None and models_dir.is_dir():
            if name in _local_weights(models_dir):  # a signature a bag uses, asked for alone
                info = ModelInfo(name, True, None, (), ())
        if info is None:
            raise ModelUnavailableError(
                f"no demucs model named {name!r}: known are "
                f"{', '.join(sorted(infos) or KNOWN_MODELS)}"
            )
        if not info.available:
            raise ModelUnavailableError(info.reason or f"{name} is unavailable")
    try:
        model = _load_model(name, models_dir)
        model.eval()
        model.to(dev)
    except ModelUnavailableError:
        raise
    except (Exception, SystemExit) as exc:  # demucs calls sys.exit on some bad files
        raise _unavailable(name, models_dir, exc) from exc
    sources = tuple(str(s) for s in model.sources)
    max_seg = getattr(model, "max_allowed_segment", None)
    if max_seg is None and type(model).__name__ == "HTDemucs":
        max_seg = float(model.segment)
    if max_seg is not None and not np.isfinite(float(max_seg)):
        max_seg = None
    return LoadedModel(
        name=name,
        model=model,
        sources=sources,
        samplerate=int(model.samplerate),
        audio_channels=int(model.audio_channels),
        max_segment_s=None if max_seg is None else float(max_seg),
    )


def _load_model(name: str, models_dir: Path | None) -> Any:
    from demucs import pretrained
    from demucs.apply import BagOfModels
    from demucs.repo import LocalRepo

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == TEST_MODEL:
            return pretrained.get_model(TEST_MODEL)
        if models_dir is None:
            raise ModelUnavailableError(f"{name} needs a model folder: set {ENV_VAR}")
        bag_file = models_dir / f"{name}.yaml"
        if bag_file.is_file() or name not in KNOWN_MODELS:
            return pretrained.get_model(name, repo=models_dir)
        # A published model whose bag file was left out: demucs ships it.
        import yaml

        bag = yaml.safe_load((_demucs_remote() / f"{name}.yaml").read_text())
        repo = LocalRepo(models_dir)
        models = [repo.get_model(sig) for sig in bag["models"]]
        return BagOfModels(models, bag.get("weights"), bag.get("segment"))


def get_test_model(device: DeviceLike = None) -> LoadedModel:
    """``demucs_unittest``: demucs's tiny random model (real code path, meaningless output)."""
    return load(TEST_MODEL, models_dir=None, device=device)


def _default_segment(model: LoadedModel) -> float:
    inner = getattr(model.model, "models", [model.model])
    return float(min(float(getattr(m, "segment", 10.0)) for m in inner))


def _n_chunks(model: LoadedModel, n: int, *, overlap: float, segment: float | None) -> int:
    seg = segment if segment is not None else _default_segment(model)
    seg_len = max(1, int(model.samplerate * seg))
    stride = max(1, int((1 - overlap) * seg_len))
    return max(1, -(-n // stride))


def separate(
    model: LoadedModel,
    y: np.ndarray,
    sr: int,
    *,
    shifts: int = DEFAULT_SHIFTS,
    overlap: float = DEFAULT_OVERLAP,
    segment: float | None = None,
    seed: int = 0,
    device: DeviceLike = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> dict[str, np.ndarray]:
    """Separate audio into the model's stems with ``demucs.apply.apply_model``.

    The input is resampled to the model's rate with soxr (and back), mono is duplicated to
    stereo (and the stems averaged back to mono), and the mix is standardised as demucs's own
    command does. Long inputs are split into the model's windows by demucs itself.

    Parameters
    ----------
    model : LoadedModel
        From :func:`load`.
    y : np.ndarray [shape=(n_samples,) or (channels, n_samples), dtype=float32]
        Mono or stereo audio.
    sr : int
        Sample rate of ``y`` in Hz.
    shifts : int
        Random time shifts averaged (demucs's "shift trick"), in [0, 20].
    overlap : float
        Overlap between model windows, in [0, 0.95].
    segment : float or None
        Window length in seconds; None uses the model's (transformer models cap it).
    seed : int
        Seed for the shifts (Python's ``random``, which demucs uses; its state is restored).
    device : str or torch.device or None
        Where the model runs.
    progress : ProgressFn
        Called as windows finish.
    cancel : CancelToken or None
        Checked at every model window.

    Returns
    -------
    dict of str to np.ndarray [shape=y.shape, dtype=float32]
        One signal per model source, at ``sr``.

    Raises
    ------
    ParameterError
        On bad audio or a parameter out of range.
    JobCancelled
        If ``cancel`` is set.
    """
    y32 = check_audio(y, min_samples=16)
    if y32.ndim > 2 or (y32.ndim == 2 and y32.shape[0] not in (1, 2)):
        raise ParameterError(f"y must be mono or stereo (channels, n_samples), got {y32.shape}")
    sr = check_int("sr", sr, lo=1000)
    shifts = check_int("shifts", shifts, lo=0, hi=20)
    overlap = check_float("overlap", overlap, lo=0.0, hi=0.95)
    if segment is not None:
        hi = model.max_segment_s if model.max_segment_s is not None else 600.0
        segment = check_float("segment", segment, lo=1.0, hi=hi)
    seed = check_int("seed", seed, lo=0)
    dev = as_device(device)
    x = y32.reshape(-1, y32.shape[-1])
    n = x.shape[-1]
    if x.shape[0] < model.audio_channels:
        x = np.repeat(x, model.audio_channels, axis=0)
    if sr != model.samplerate:
        x = np.ascontiguousarray(soxr.resample(x.T, sr, model.samplerate, quality="HQ").T)
    ref = x.mean(axis=0)
    mean, std = float(ref.mean()), float(ref.std())
    std = std if std > 1e-8 else 1.0
    mix = torch.from_numpy(((x - mean) / std).astype(np.float32))[None]
    if segment is None and x.shape[-1] < _default_segment(model) * model.samplerate:
        # One window covers the sound: make it no longer than the sound (less padding to run).
        segment = max(0.1, x.shape[-1] / model.samplerate)

    n_models = len(getattr(model.model, "models", [model.model]))
    total = (
        n_models * max(1, shifts) * _n_chunks(model, x.shape[-1], overlap=overlap, segment=segment)
    )
    done = [0]

    def callback(info: Mapping[str, Any]) -> None:
        if cancel is not None:
            cancel.raise_if_cancelled()
        if info.get("state") == "end":
            done[0] += 1
            progress(min(0.99, done[0] / total), f"{model.name} window {done[0]}")

    from demucs.apply import apply_model

    state = random.getstate()
    random.seed(seed)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = apply_model(
                model.model,
                mix,
                shifts=shifts,
                split=True,
                overlap=overlap,
                progress=False,
                device=dev,
                num_workers=0,
                segment=segment,
                callback=callback,
            )[0]
    finally:
        random.setstate(state)
    stems = out.cpu().numpy().astype(np.float32) * std + mean  # (S, C, n_model)
    result: dict[str, np.ndarray] = {}
    for name, s in zip(model.sources, stems, strict=True):
        if sr != model.samplerate:
            s = np.asarray(soxr.resample(s.T, model.samplerate, sr, quality="HQ").T)
        s = _fit(s, n)
        if y32.ndim == 1:
            s = s.mean(axis=0)
        elif y32.shape[0] == 1:
            s = s.mean(axis=0, keepdims=True)
        result[name] = np.ascontiguousarray(s, dtype=np.float32)
    progress(1.0, f"{model.name} done")
    return result


def _fit(s: np.ndarray, n: int) -> np.ndarray:
    if s.shape[-1] >= n:
        return s[..., :n]
    return np.pad(s, [(0, 0), (0, n - s.shape[-1])])


def stem_audio(sources: Mapping[str, np.ndarray], stem: str, *, mix: np.ndarray) -> np.ndarray:
    """Answer any stem of :data:`residue.dsp.separation.STEMS` from a model's sources.

    A stem the model produces is returned as is. Others map deterministically ("wrong
    target" answers): ``harmonic`` = all but drums, ``percussive`` = drums, ``foreground`` =
    vocals, ``background`` = all but vocals, ``residual`` = the mix minus every source (what
    the model put nowhere), ``piano``/``guitar`` on a 4-stem model = other, ``low`` = bass,
    ``mid`` = everything but bass and drums, ``high`` = drums.

    Parameters
    ----------
    sources : mapping of str to np.ndarray
        The model's stems (same shape as ``mix``).
    stem : str
        The wanted stem.
    mix : np.ndarray
        The mix the sources came from.

    Returns
    -------
    np.ndarray [shape=mix.shape, dtype=float32]

    Raises
    ------
    ParameterError
        If ``stem`` is unknown.
    """
    from residue.dsp.separation import check_stem

    stem = check_stem(stem)
    if stem in sources:
        return np.asarray(sources[stem], dtype=np.float32)

    def total(names: list[str]) -> np.ndarray:
        acc = np.zeros(mix.shape, dtype=np.float32)
        for k in names:
            acc += sources[k]
        return acc

    names = list(sources)
    pick = {
        "harmonic": [k for k in names if k != "drums"],
        "percussive": [k for k in names if k == "drums"],
        "foreground": [k for k in names if k == "vocals"],
        "background": [k for k in names if k != "vocals"],
        "piano": [k for k in names if k == "other"],
        "guitar": [k for k in names if k == "other"],
        "low": [k for k in names if k == "bass"],
        "mid": [k for k in names if k not in ("bass", "drums")],
        "high": [k for k in names if k == "drums"],
        "drums": [k for k in names if k == "drums"],
        "bass": [k for k in names if k == "bass"],
        "vocals": [k for k in names if k == "vocals"],
        "other": [k for k in names if k not in ("drums", "bass", "vocals")],
    }
    if stem == "residual":
        rest: np.ndarray = np.asarray(mix, dtype=np.float32) - total(names)
        return rest
    return total(pick[stem])
