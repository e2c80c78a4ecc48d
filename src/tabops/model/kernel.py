"""LightGBM models compiled to native code for batch scoring (lleaves).

lleaves turns LightGBM's model text into machine code through LLVM (llvmlite: no C compiler)
that compares float64 values with float64 thresholds as LightGBM does, so it gives LightGBM's
own scores (to rounding, ~1e-15) several times faster per core than ONNX Runtime's float32
graph, with no split-threshold ties to rescore.

Compiling takes seconds, so the object code is cached, one file per model, in
:func:`cache_dir`. Its key is the model text, the lleaves and llvmlite versions and the CPU the
code targets (it uses the host's instruction set); writers take a lock and rename the finished
file into place, so concurrent workers and processes never read half a file. A fresh compile
is checked against LightGBM itself on rows on and beside every split threshold before it is
cached; anything that fails (lleaves not installed, a model it cannot compile, a failed check)
leaves the caller on the ONNX graph.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tabops.model.exact import as_outputs

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from tabops.model.compile import EncoderPlan

log = logging.getLogger(__name__)

#: Overrides the cache folder (default: ``$XDG_CACHE_HOME/tabops/kernels``).
CACHE_ENV = "TABOPS_KERNEL_CACHE"
#: Largest |native - LightGBM| accepted by the check after compiling, relative to the
#: largest score's magnitude when it is above 1: float64 sums of leaf values in another order
#: differ in their last bits (1.6e-6 on house prices near 1e9).
TOLERANCE = 1e-9
#: Most bytes of encoded (float64) matrix scored at once.
_BLOCK_BYTES = 64 * 1024 * 1024
_PROBE_ROWS = 512
#: LightGBM's kZeroThreshold (1e-35f): its dense-row reader takes any |value| <= it as 0.0.
_ZERO_BAND = float(np.float32(1e-35))

#: Shows a status line while the model compiles (``progress.step``'s signature).
Status = Callable[[str], AbstractContextManager[Any]]


@dataclass(frozen=True)
class NativeCode:
    """The compiled model, as shipped to other processes and machines: its object code and
    the key it was compiled under (a machine with another CPU or version compiles its own)."""

    key: str
    code: bytes


def cache_dir() -> Path:
    """Where compiled models are kept: ``$TABOPS_KERNEL_CACHE``, else the XDG cache."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tabops" / "kernels"


def is_compiled(model_text: str) -> bool:
    """Whether this machine's cache holds the model's object code (False without lleaves)."""
    try:
        key = _key(model_text)
    except ImportError:
        return False
    return any((folder / f"{key}.o").exists() for folder in _cache_folders())


def compile_native(model_text: str, status: Status | None = None) -> NativeCode | None:
    """The model compiled (or read from the cache), or None when it cannot be: lleaves is not
    installed, or it cannot compile this model, or its scores are not LightGBM's."""
    try:
        path = _cached(model_text, None, status)
    except ImportError:
        return None
    except Exception as exc:  # the ONNX graph still scores: say why, never fail the run
        log.warning("Not compiling the model to native code (%s: %s)", type(exc).__name__, exc)
        return None
    return NativeCode(path.stem, path.read_bytes())


class NativePredictor:
    """The compiled predictor's encoding, then the model's native code (float64)."""

    kind = "native"

    def __init__(
        self, plan: EncoderPlan, model_text: str, classes: list[str] | None,
        shipped: NativeCode | None = None,
    ) -> None:  # fmt: skip
        import lleaves

        self.plan, self.classes = plan, classes
        # Columns that can hold values in LightGBM's zero band (one-hot ones are 0.0 or 1.0).
        self._numeric = np.array(sorted(set(range(plan.width)) - plan.onehot_positions), int)
        folder = _writable_cache()
        path = _cached(model_text, shipped, None)
        self._model = lleaves.Model(model_file=str(_text_file(folder, path.stem, model_text)))
        self._model.compile(cache=str(path))  # loads the object code: no compiling

    def _run(self, matrix: np.ndarray) -> np.ndarray:
        _zero_band(matrix, self._numeric)
        # One thread: parallelism comes from the chunks (worker processes, Spark tasks).
        raw = np.asarray(self._model.predict(matrix, n_jobs=1), dtype=np.float64)
        return as_outputs(raw, self.classes is not None)

    def predict_arrays(self, columns: Mapping[str, pa.Array], rows: int) -> np.ndarray:
        """Scores of the data contract's typed Arrow columns, encoded in blocks."""
        block = max(1, _BLOCK_BYTES // (8 * max(1, self.plan.width)))
        parts = []
        for start in range(0, rows, block):
            count = min(block, rows - start)
            piece = {name: columns[name].slice(start, count) for name in self.plan.columns}
            parts.append(self._run(self.plan.encode_arrays(piece, count, np.float64)))
        if not parts:
            width = 0 if self.classes is None else len(self.classes)
            return np.zeros((0, width) if width else 0)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def predict_frame(self, frame: pd.DataFrame) -> np.ndarray:
        return self._run(self.plan.encode_frame(frame))

    def predict_rows(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return self._run(self.plan.encode_rows(rows))


def _cached(model_text: str, shipped: NativeCode | None, status: Status | None) -> Path:
    """The cache file of the model's object code, compiled (and checked) if missing; the
    ``shipped`` code is stored instead when it was compiled under this machine's key."""
    import fcntl

    import lleaves

    key = _key(model_text)
    folder = _writable_cache()
    path, refused = folder / f"{key}.o", folder / f"{key}.refused"
    if path.exists():
        return path
    with (folder / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one writer per model; the others wait, then read
        if path.exists():
            return path
        if refused.exists():  # compiling takes seconds to minutes: not again for nothing
            raise ValueError(f"{refused.read_text()} (when first compiled; cached)")
        partial = folder / f"{key}.o.tmp-{os.getpid()}"
        try:
            if shipped is not None and shipped.key == key:
                partial.write_bytes(shipped.code)
            else:
                with (status or _quiet)("Compiling the model to native code (lleaves; cached)"):
                    model = lleaves.Model(model_file=str(_text_file(folder, key, model_text)))
                    model.compile(cache=str(partial))
                    try:
                        _check(model, model_text)
                    except ValueError as exc:
                        refused.write_text(str(exc))
                        raise
            partial.replace(path)  # whole or absent, for every reader
        finally:
            partial.unlink(missing_ok=True)
    return path


def _quiet(_description: str) -> AbstractContextManager[Any]:
    return nullcontext()


def _key(model_text: str) -> str:
    """The model text, the compiler's versions and the target CPU, hashed."""
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    try:
        features = llvm.get_host_cpu_features().flatten()
    except RuntimeError:  # lleaves compiles without features then
        features = ""
    parts = [model_text, metadata.version("lleaves"), metadata.version("llvmlite"),
             llvm.get_process_triple(), llvm.get_host_cpu_name(), features]  # fmt: skip
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def _cache_folders() -> tuple[Path, ...]:
    return cache_dir(), Path(tempfile.gettempdir()) / f"tabops-kernels-{os.getuid()}"


def _writable_cache() -> Path:
    """The cache folder, or one in the temporary folder when it cannot be created (a
    read-only home on a cluster's executor)."""
    for folder in _cache_folders():
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            return folder
    raise OSError(f"no writable folder for compiled models ({cache_dir()})")


def _text_file(folder: Path, key: str, model_text: str) -> Path:
    """The model text as a file (lleaves reads a file), written once per key."""
    path = folder / f"{key}.txt"
    if not path.exists():
        partial = folder / f"{key}.txt.tmp-{os.getpid()}"
        partial.write_text(model_text)
        partial.replace(path)
    return path


def _zero_band(matrix: np.ndarray, columns: np.ndarray) -> None:
    """Set the values LightGBM reads as 0.0 to 0.0 (in place), as it does before its trees:
    on a split at +-1e-35 they would otherwise go the other way."""
    part = matrix[:, columns]
    tiny = np.abs(part) <= _ZERO_BAND
    if tiny.any():
        part[tiny] = 0.0
        matrix[:, columns] = part


def _check(model: Any, model_text: str) -> None:
    """Raise unless the compiled model gives LightGBM's scores on rows made of each split's
    threshold, its neighbouring doubles and random values."""
    import lightgbm

    booster = lightgbm.Booster(model_str=model_text)
    rows = _probe_rows(model_text, int(model.num_feature()))
    expected = np.asarray(booster.predict(rows, num_threads=1), dtype=np.float64)
    _zero_band(rows, np.arange(rows.shape[1]))
    got = np.asarray(model.predict(rows, n_jobs=1), dtype=np.float64)
    difference = float(np.max(np.abs(got.reshape(expected.shape) - expected)))
    scale = max(1.0, float(np.max(np.abs(expected))))
    if not difference <= TOLERANCE * scale:  # also NaN
        raise ValueError(f"native scores differ from LightGBM's by {difference:.3g}")


def _probe_rows(model_text: str, width: int) -> np.ndarray:
    """Rows whose values are split thresholds, their neighbouring doubles, or random."""
    thresholds: dict[int, list[float]] = {}
    features: list[str] = []
    for line in model_text.splitlines():
        key, _, value = line.partition("=")
        if key == "Tree":
            features = []
        elif key == "split_feature":
            features = value.split()
        elif key == "threshold":
            for feature, threshold in zip(features, value.split(), strict=True):
                thresholds.setdefault(int(feature), []).append(float(threshold))
    rng = np.random.default_rng(0)
    rows = rng.normal(scale=2.0, size=(_PROBE_ROWS, width))
    for column, values in thresholds.items():
        chosen = rng.choice(np.asarray(values), _PROBE_ROWS)
        nudged = np.nextafter(chosen, chosen + rng.choice([-1.0, 0.0, 1.0], _PROBE_ROWS))
        keep = rng.random(_PROBE_ROWS) < 0.8  # most values on or beside a split
        rows[keep, column] = nudged[keep]
    return rows
