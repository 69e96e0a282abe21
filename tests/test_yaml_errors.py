"""A YAML syntax error names the file, the line and column, shows the line with a caret, and hints at
the usual mistake; for a bench config and for a policy file alike."""

from __future__ import annotations

import pytest

from rankbench.bench.config import load_config
from rankbench.cli import main
from rankbench.errors import RankbenchError
from rankbench.stats.policy import load_policy

CASES = [
    (
        "model:\n  name: all-minilm-l6-v2\ntrain:\n  steps: 10\n   seed: 3\n",
        "line 5, column 8: mapping values are not allowed here\n  5 |    seed: 3\n    |        ^",
        "must be quoted, or the line is indented too far",
    ),
    (
        "train:\n\tsteps: 10\n",
        "line 2, column 1: found character '\\t' that cannot start any token\n  2 | \tsteps: 10\n    | ^",
        "YAML indents with spaces only",
    ),
    (
        "task:\n  prompt_template: Q: {prompt} A:\n",
        "line 2, column 21: mapping values are not allowed here\n"
        "  2 |   prompt_template: Q: {prompt} A:\n    |                     ^",
        "a value holding ': ' must be quoted",
    ),
    (
        "train: [1, 2\n",
        "line 2, column 1: expected ',' or ']', but got '<stream end>'",
        "check the indentation",
    ),
]


@pytest.mark.parametrize(("text", "where", "hint"), CASES, ids=["indent", "tab", "colon", "unclosed"])
def test_a_config_syntax_error_names_file_line_and_column(tmp_path, text, where, hint):
    path = tmp_path / "bench.yaml"
    path.write_text(text)
    with pytest.raises(RankbenchError) as info:
        load_config(path, {})
    rendered = info.value.render()
    assert rendered.startswith(f"error: {path}: not valid YAML at {where}"), rendered
    assert f"\nhint: {hint}" in rendered or hint in rendered.split("\nhint: ")[1]
    assert "<unicode string>" not in rendered


def test_the_cli_prints_it_with_exit_2_and_touches_no_folder(tmp_path, capsys):
    path = tmp_path / "bench.yaml"
    path.write_text(CASES[0][0])
    assert main(["run", "--config", str(path), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"error: {path}: not valid YAML at line 5, column 8" in err and "  5 |    seed: 3" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_a_policy_syntax_error_names_file_line_and_column(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("claims:\n  pass:\n   - x: 1\n  - y: 2\n")
    with pytest.raises(RankbenchError) as info:
        load_policy(path)
    rendered = info.value.render()
    assert rendered.startswith(f"error: {path}: policy is not valid YAML at line 4, column 3:"), rendered
    assert "\n  4 |   - y: 2\n    |   ^" in rendered and "\nhint: " in rendered
