"""Bundle integrity: hash, library version and location are checked before unpickling."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from moderation.errors import BundleError
from moderation.model.bundle import BUNDLE_FILE, MANIFEST_FILE, load_bundle, read_manifest


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "bundle"
    shutil.copytree(src, dst)
    return dst


def test_manifest_records_what_the_issue_asks(tiny_bundle_dir: Path) -> None:
    manifest = read_manifest(tiny_bundle_dir)
    for key in (
        "format_version",
        "model_version",
        "sklearn_version",
        "corpora",
        "thresholds",
        "evaluation",
        "sha256",
    ):
        assert key in manifest, key
    assert set(manifest["thresholds"]) == {"pl", "en"}
    assert "own" in manifest["corpora"]


def test_altered_bundle_is_refused(tiny_bundle_dir: Path, tmp_path: Path) -> None:
    directory = _copy(tiny_bundle_dir, tmp_path)
    with (directory / BUNDLE_FILE).open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(BundleError, match="SHA-256"):
        load_bundle(directory)


def test_other_sklearn_version_is_refused(tiny_bundle_dir: Path, tmp_path: Path) -> None:
    directory = _copy(tiny_bundle_dir, tmp_path)
    manifest = json.loads((directory / MANIFEST_FILE).read_text())
    manifest["sklearn_version"] = "0.0.1"
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"scikit-learn 0\.0\.1.*retrain"):
        load_bundle(directory)


def test_missing_bundle_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"python train\.py"):
        load_bundle(tmp_path)


def test_bundle_outside_the_directory_is_refused(tiny_bundle_dir: Path, tmp_path: Path) -> None:
    directory = tmp_path / "linked"
    directory.mkdir()
    shutil.copy(tiny_bundle_dir / MANIFEST_FILE, directory / MANIFEST_FILE)
    (directory / BUNDLE_FILE).symlink_to(tiny_bundle_dir / BUNDLE_FILE)
    with pytest.raises(BundleError, match=r"missing|link"):
        load_bundle(directory)


def test_importing_the_package_loads_no_model() -> None:
    import subprocess
    import sys

    code = (
        "import moderation, moderation.scoring, sys; "
        "print('joblib' in sys.modules, 'sklearn' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False False"


def test_unknown_format_is_refused_and_format_2_still_loads(
    tiny_bundle_dir: Path, tmp_path: Path
) -> None:
    import joblib

    from moderation.model.bundle import FORMAT_VERSION, READABLE_FORMATS

    assert 2 in READABLE_FORMATS and FORMAT_VERSION == 3  # 3: mixtures (heads.Mixture)
    directory = _copy(tiny_bundle_dir, tmp_path)
    manifest = json.loads((directory / MANIFEST_FILE).read_text())
    manifest["format_version"] = 1
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"format 1 is not a supported format.*retrain"):
        load_bundle(directory)
    # A format 2 bundle (before mixtures): its head stacks have no ``mixture`` attribute.
    payload = joblib.load(directory / BUNDLE_FILE)
    payload["format_version"] = 2
    for model in payload["models"].values():
        model.heads.__dict__.pop("mixture", None)
    joblib.dump(payload, directory / BUNDLE_FILE)
    import hashlib

    manifest["format_version"] = 2
    manifest["sha256"] = hashlib.sha256((directory / BUNDLE_FILE).read_bytes()).hexdigest()
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest))
    loaded = load_bundle(directory)
    assert all(model.heads.mixture is None for model in loaded.models.values())
