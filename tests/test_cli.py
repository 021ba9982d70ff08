"""The `moderation` and `train.py` commands, run as real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "moderation.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_score_arguments_print_json_lines(tiny_bundle_dir: Path) -> None:
    done = run(["--model", str(tiny_bundle_dir), "score", "ty debilu", "Dobry artykuł"])
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 2 and all("scores" in line for line in lines)


def test_score_jsonl_keeps_order_and_reports_bad_lines(tiny_bundle_dir: Path) -> None:
    stdin = (
        "\n".join(
            [
                json.dumps({"id": "a", "text": "ty debilu"}),
                "{not json",
                json.dumps({"id": "c", "text": ""}),
                json.dumps({"id": "d"}),
                json.dumps({"id": "e", "text": 12}),
                json.dumps({"id": "f", "text": "Zgadzam się z autorem", "article": {"id": "x1"}}),
            ]
        )
        + "\n"
    )
    done = run(["--model", str(tiny_bundle_dir), "score", "--jsonl"], stdin)
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line.get("id") for line in out] == ["a", None, "c", "d", "e", "f"]
    assert [line.get("error", {}).get("code") for line in out] == [
        None,
        "invalid_json",
        "empty_text",
        "missing_text",
        "invalid_text",
        None,
    ]
    assert out[0]["language"] == "pl" and "toxicity" in out[0]["scores"]


def test_bad_text_argument_exits_non_zero_with_one_line(tiny_bundle_dir: Path) -> None:
    done = run(["--model", str(tiny_bundle_dir), "score", "   "])
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "empty_text" in done.stderr


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    done = run(["--model", str(tmp_path), "score", "tekst"])
    assert done.returncode == 1
    assert "python train.py" in done.stderr and "Traceback" not in done.stderr


def test_train_help_describes_the_contract() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "train.py"), "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--corpora" in done.stdout and "--out" in done.stdout


def test_train_reports_stages_and_writes_report(tiny_corpus_dir: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "train.py"),
            "--own",
            str(tiny_corpus_dir),
            "--out",
            str(tmp_path / "m"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    for stage in (
        "loading the own corpus",
        "normalising",
        "vectorising",
        "fitting toxicity",
        "calibrated",
        "bundle written",
        "report:",
    ):
        assert stage in done.stderr, stage
    report = (tmp_path / "m" / "report" / "report.md").read_text()
    assert "plots/" in report and list((tmp_path / "m" / "report" / "plots").glob("*.png"))


def test_train_names_a_missing_corpora_root(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "train.py"),
            "--corpora",
            str(tmp_path / "nope"),
            "--out",
            str(tmp_path / "m"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "nope" in done.stderr and "Traceback" not in done.stderr


def test_invalid_utf8_line_is_an_error_and_the_rest_go_on(tiny_bundle_dir: Path) -> None:
    stdin = (
        b'{"id": "a", "text": "dobry tekst"}\n'
        b'{"id": "b", "text": "\xff\xfe zly"}\n'
        b'{"id": "c", "text": "ok"}\n'
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "moderation.cli",
            "--model",
            str(tiny_bundle_dir),
            "score",
            "--jsonl",
        ],
        input=stdin,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.decode("utf-8").splitlines()]
    assert [line["id"] for line in out] == ["a", "b", "c"]
    assert (
        out[1]["error"]["code"] == "invalid_unicode" and "scores" in out[0] and "scores" in out[2]
    )
