"""The model bundle: one joblib file with every head, a JSON manifest and its SHA-256.

joblib files are pickles, and unpickling runs code. So a bundle is only ever read from the
configured directory, only after its SHA-256 matches the one recorded in the manifest
beside it, and only with the scikit-learn version it was written with (pickled estimators
are not portable across versions).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final

from moderation.errors import BundleError
from moderation.model.features import TextFeaturizer
from moderation.model.heads import HeadStack
from moderation.model.stance import ClassHead

#: 2: languages may carry stance and sentiment heads. 3: a head stack may carry a mixture
#: (``heads.Mixture``), which code for format 2 would ignore, scoring toxicity wrongly.
FORMAT_VERSION: Final = 3
#: Formats this code loads: a format 2 bundle has no mixture and scores as it always did.
READABLE_FORMATS: Final = frozenset({2, FORMAT_VERSION})
BUNDLE_FILE: Final = "bundle.joblib"
MANIFEST_FILE: Final = "manifest.json"


@dataclass
class LanguageModel:
    """Everything needed to score one language: normaliser lexicon, features and heads."""

    language: str
    unmask_words: tuple[str, ...]
    featurizer: TextFeaturizer
    heads: HeadStack
    thresholds: dict[str, float]
    #: None when the bundle was trained without the stance corpus (toxicity only).
    stance: ClassHead | None = None
    sentiment: ClassHead | None = None


@dataclass
class Bundle:
    """The loaded bundle: models per language plus the metadata that describes them."""

    models: dict[str, LanguageModel]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def model_version(self) -> str:
        return str(self.metadata.get("model_version", "unknown"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_bundle(bundle: Bundle, directory: Path) -> Path:
    """Write the bundle and its manifest atomically (temp file + rename); returns the path."""
    import joblib
    import sklearn

    directory.mkdir(parents=True, exist_ok=True)
    metadata = dict(bundle.metadata)
    metadata["format_version"] = FORMAT_VERSION
    metadata["sklearn_version"] = sklearn.__version__
    bundle.metadata = metadata
    target = directory / BUNDLE_FILE
    partial = directory / (BUNDLE_FILE + ".partial")
    joblib.dump(
        {"format_version": FORMAT_VERSION, "models": bundle.models, "metadata": metadata},
        partial,
        compress=3,
    )
    manifest = {
        **metadata,
        "bundle_file": BUNDLE_FILE,
        "sha256": _sha256(partial),
        "bytes": partial.stat().st_size,
    }
    manifest_partial = directory / (MANIFEST_FILE + ".partial")
    manifest_partial.write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    os.replace(partial, target)
    os.replace(manifest_partial, directory / MANIFEST_FILE)
    return target


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of the bundle in ``directory``, without loading the bundle itself."""
    path = directory / MANIFEST_FILE
    if not path.is_file():
        raise BundleError(
            f"no model bundle in {directory} (missing {MANIFEST_FILE}): run `python train.py` "
            "to build one, or point --model / MODERATION_MODEL_DIR at a directory that has one"
        )
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleError(f"unreadable manifest {path}: {exc}") from exc
    return manifest


def load_bundle(directory: Path) -> Bundle:
    """Verify, then load, the bundle in ``directory``."""
    import joblib

    # The installed version from the package metadata: importing scikit-learn itself only
    # to read it would add about 40 MB to every scoring process, which never uses it.
    sklearn_version = version("scikit-learn")

    directory = Path(directory).resolve()
    manifest = read_manifest(directory)
    path = (directory / BUNDLE_FILE).resolve()
    if path.parent != directory or not path.is_file():
        raise BundleError(
            f"bundle file {BUNDLE_FILE} missing from {directory} (or a link leaving it)"
        )
    if manifest.get("format_version") not in READABLE_FORMATS:
        raise BundleError(
            f"bundle format {manifest.get('format_version')} is not a supported format "
            f"({', '.join(map(str, sorted(READABLE_FORMATS)))}): retrain with `python train.py`"
        )
    if manifest.get("sklearn_version") != sklearn_version:
        raise BundleError(
            f"bundle was written with scikit-learn {manifest.get('sklearn_version')}, this "
            f"environment has {sklearn_version}: install that version "
            f"(pip install scikit-learn=={manifest.get('sklearn_version')}) "
            "or retrain with `python train.py`"
        )
    found = _sha256(path)
    if found != manifest.get("sha256"):
        raise BundleError(
            f"bundle {path} does not match its recorded SHA-256 "
            f"(expected {manifest.get('sha256')}, "
            f"found {found}); refusing to load an altered file: retrain or restore it"
        )
    payload = joblib.load(path)
    if not isinstance(payload, dict) or payload.get("format_version") != manifest.get(
        "format_version"
    ):
        raise BundleError(f"bundle {path} has an unexpected layout: retrain with `python train.py`")
    return Bundle(models=payload["models"], metadata=payload["metadata"])
