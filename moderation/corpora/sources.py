"""The manifest of external corpora (``training_data/sources.toml``) and checked access to them.

External corpora are read from a path outside the repository (their licences do not let us vendor
them), so the manifest pins every file by SHA-256: a re-exported, "fixed" or truncated file would
otherwise silently change the training data and every figure measured on it. Adapters read their
files only through :meth:`Source.read`, which checks the hash on the very bytes it returns, and
every error names the corpus, the file, what is wrong and where to get the original.
"""

from __future__ import annotations

import csv
import hashlib
import io
import tomllib
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Final, Literal, cast

from moderation.errors import CorpusError

#: The manifest lives with the training data, not in the package: corpora are a training concern.
MANIFEST: Final[Path] = Path(__file__).resolve().parents[2] / "training_data" / "sources.toml"

Kind = Literal["records", "lexicon", "stance"]
Quoting = Literal[0, 1, 2, 3]  # csv.QUOTE_MINIMAL / _ALL / _NONNUMERIC / _NONE
_KINDS: Final[tuple[Kind, ...]] = ("records", "lexicon", "stance")
_HEX: Final[frozenset[str]] = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class Upstream:
    """Where the exact bytes come from: a GitHub repository at a fixed commit."""

    repository: str
    commit: str

    def url(self, path: str) -> str:
        """Download URL of ``path`` at the pinned commit."""
        return f"https://github.com/{self.repository}/raw/{self.commit}/{path}"


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One file of a corpus: where it sits locally, where it comes from, and its SHA-256."""

    path: str
    upstream_path: str
    sha256: str
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Source:
    """One ``[[corpus]]`` table of the manifest."""

    name: str
    adapter: str
    kind: Kind
    language: str
    licence: str
    directory: str
    upstream: Upstream
    files: tuple[SourceFile, ...]
    note: str = ""

    def file(self, path: str) -> SourceFile:
        """The manifest entry for ``path``; an adapter asking for an unlisted file is a bug."""
        for entry in self.files:
            if entry.path == path:
                return entry
        raise CorpusError(f"corpus {self.name!r}: {path!r} is not listed in {MANIFEST.name}")

    def location(self, root: Path, path: str) -> Path:
        """Where ``path`` of this corpus is expected under the corpora ``root``."""
        return root / self.directory / self.file(path).path

    def how_to_get(self, path: str) -> str:
        """A sentence telling a person where the original of ``path`` comes from."""
        entry = self.file(path)
        text = (
            f"get it unchanged from {self.upstream.url(entry.upstream_path)} "
            f"({self.upstream.repository} @ {self.upstream.commit[:12]}, {entry.upstream_path!r}) "
            f"and store it as <corpora root>/{self.directory}/{entry.path}"
        )
        return f"{text}; note: {self.note}" if self.note else text

    def problem(self, root: Path, path: str, data: bytes | None) -> str | None:
        """What is wrong with ``path`` given its bytes (``None``: missing); ``None`` if nothing."""
        entry = self.file(path)
        where = self.location(root, path)
        if data is None:
            return f"corpus {self.name!r}: file {entry.path!r} is missing (expected at {where})"
        found = hashlib.sha256(data).hexdigest()
        if found != entry.sha256:
            return (
                f"corpus {self.name!r}: file {entry.path!r} has the wrong sha256 "
                f"(expected {entry.sha256}, found {found}; {where} is altered or another release)"
            )
        return None

    def read(self, root: Path, path: str) -> bytes:
        """The bytes of ``path``, after checking them against the manifest's SHA-256."""
        data = _read_or_none(self.location(root, path))
        problem = self.problem(root, path, data)
        if problem is not None or data is None:
            raise CorpusError(f"{problem}: {self.how_to_get(path)}")
        return data

    def error(self, detail: str) -> CorpusError:
        """A format error in a verified file: the adapter and the data disagree."""
        return CorpusError(f"corpus {self.name!r}: {detail} (adapter {self.adapter!r})")

    def csv_rows(
        self,
        what: str,
        text: str,
        required: Collection[str],
        *,
        delimiter: str = ",",
        quoting: Quoting = csv.QUOTE_MINIMAL,
        escapechar: str | None = None,
    ) -> list[dict[str, str]]:
        """Rows of CSV ``text`` (named ``what`` in errors) as dicts, after checking the header."""
        reader = csv.DictReader(
            io.StringIO(text, newline=""),
            delimiter=delimiter,
            quoting=quoting,
            escapechar=escapechar,
            strict=True,
        )
        missing = sorted(set(required) - set(reader.fieldnames or ()))
        if missing:
            raise self.error(f"{what}: header lacks column(s) {missing}")
        rows: list[dict[str, str]] = []
        try:
            for row in reader:
                if None in row or None in row.values():
                    raise self.error(f"{what}: line {reader.line_num}: wrong number of fields")
                rows.append(row)
        except csv.Error as exc:
            raise self.error(f"{what}: unreadable CSV near line {reader.line_num}: {exc}") from exc
        return rows


def _read_or_none(path: Path) -> bytes | None:
    # The corpus files are a few MB at most: reading them whole keeps one code path for the hash.
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc}") from exc


def verify(root: Path, source: Source) -> None:
    """Check that every file of ``source`` exists under ``root`` with the manifest's SHA-256.

    Reports every problem of the corpus at once, each with where to get the original file.
    """
    problems: list[str] = []
    for entry in source.files:
        problem = source.problem(root, entry.path, _read_or_none(source.location(root, entry.path)))
        if problem is not None:
            problems.append(f"{problem}: {source.how_to_get(entry.path)}")
    if problems:
        raise CorpusError("\n".join(problems))


def available(root: Path, manifest: tuple[Source, ...] | None = None) -> list[Source]:
    """The sources whose directory exists under ``root``, in manifest order.

    Only the directory decides: a present directory with a missing or altered file is then an
    error in :func:`verify`, never a silent skip. A ``root`` that is not a directory is an error too
    (a typo in ``--corpora`` must not quietly train without corpora).
    """
    if not root.is_dir():
        raise CorpusError(f"corpora root {root} is not a directory")
    return [s for s in (manifest or load_manifest()) if (root / s.directory).is_dir()]


def get(name: str, manifest: tuple[Source, ...] | None = None) -> Source:
    """The source called ``name``."""
    sources = manifest or load_manifest()
    for source in sources:
        if source.name == name:
            return source
    known = ", ".join(s.name for s in sources)
    raise CorpusError(f"unknown corpus {name!r} (known: {known})")


@cache
def load_manifest(path: Path = MANIFEST) -> tuple[Source, ...]:
    """Parse and validate the manifest (cached: it does not change while a process runs)."""
    try:
        with path.open("rb") as fh:
            document = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CorpusError(f"cannot read corpus manifest {path}: {exc}") from exc
    tables = document.get("corpus")
    if not isinstance(tables, list) or not tables:
        raise CorpusError(f"{path}: no [[corpus]] tables")
    sources = tuple(_parse_source(path, i, table) for i, table in enumerate(tables))
    names = [s.name for s in sources]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CorpusError(f"{path}: duplicate corpus name(s) {duplicates}")
    return sources


def _parse_source(path: Path, index: int, table: object) -> Source:
    where = f"{path.name}: corpus #{index + 1}"
    table = _table(table, where)
    name = _string(table, "name", where)
    where = f"{path.name}: corpus {name!r}"
    kind = _string(table, "kind", where)
    if kind not in _KINDS:
        raise CorpusError(f"{where}: kind must be one of {_KINDS}, not {kind!r}")
    upstream = _table(table.get("upstream"), f"{where}: upstream")
    files = table.get("files")
    if not isinstance(files, list) or not files:
        raise CorpusError(f"{where}: 'files' must be a non-empty list")
    return Source(
        name=name,
        adapter=_string(table, "adapter", where),
        kind=kind,
        language=_string(table, "language", where),
        licence=_string(table, "licence", where),
        directory=_relative(_string(table, "directory", where), where),
        upstream=Upstream(
            repository=_string(upstream, "repository", f"{where}: upstream"),
            commit=_string(upstream, "commit", f"{where}: upstream"),
        ),
        files=tuple(_parse_file(where, f) for f in files),
        note=_string(table, "note", where, default=""),
    )


def _parse_file(where: str, table: object) -> SourceFile:
    table = _table(table, f"{where}: files")
    path = _relative(_string(table, "path", f"{where}: files"), where)
    where = f"{where}: file {path!r}"
    sha256 = _string(table, "sha256", where).lower()
    if len(sha256) != 64 or not set(sha256) <= _HEX:
        raise CorpusError(f"{where}: sha256 must be 64 hex digits")
    language = table.get("language")
    if language is not None and not isinstance(language, str):
        raise CorpusError(f"{where}: language must be a string")
    return SourceFile(
        path=path,
        upstream_path=_string(table, "upstream_path", where),
        sha256=sha256,
        language=language,
    )


def _table(value: object, where: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise CorpusError(f"{where}: expected a table")
    return cast(dict[str, object], value)


def _string(table: dict[str, object], key: str, where: str, default: str | None = None) -> str:
    value = table.get(key)
    if value is None and default is not None:
        return default
    if not isinstance(value, str) or not value:
        raise CorpusError(f"{where}: {key!r} must be a non-empty string")
    return value


def _relative(value: str, where: str) -> str:
    """Manifest paths stay inside the corpora root: no absolute paths, no '..'."""
    pure = PurePosixPath(value)
    if pure.is_absolute() or ".." in pure.parts or "\\" in value:
        raise CorpusError(f"{where}: path {value!r} must be relative and stay inside the root")
    return value
