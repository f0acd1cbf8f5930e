"""The README's Quick start is what CI runs: keep the two commands true."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quick_start_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_quick_start_has_exactly_two_commands():
    commands = quick_start_commands()
    assert len(commands) == 2, commands
    assert "pip install" in commands[0] and "pip install" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim():
    test_command = quick_start_commands()[1]
    assert "pytest" in test_command
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def test_main_job_runs_a_command_that_exists():
    """The main job is `pip install . && <command>`: the command must be installed and known."""
    from gradwork.cli import build_parser
    from gradwork.train.config import load_toml

    main_job = quick_start_commands()[0]
    installed, _, command = main_job.partition("&&")
    assert "pip install ." in installed, main_job
    program, *arguments = command.split()
    scripts = load_toml(ROOT / "pyproject.toml")["project"]["scripts"]
    assert scripts.get(program) == "gradwork.cli:main", (program, scripts)
    # The subcommand parses: argparse exits 2 (SystemExit) on an unknown one.
    assert build_parser().parse_args(arguments).command == arguments[0]
