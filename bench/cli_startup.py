"""CLI start-up benchmark: wall time of the catalog commands and `--help`, as whole processes, against
`python -c pass` (the interpreter's own start-up) measured in the same run, interleaved.

    .venv/bin/python -m bench.cli_startup [--runs 11] [--tree PATH]

Target: every command ≤ 0.5 s, except `templates validate ID --deep`, timed for information: it imports
label-studio-sdk's LabelInterface on purpose (~1.5 s) to generate a sample prediction. `--tree` times another
checkout of medlabel (e.g. `git archive HEAD | tar -x -C /tmp/before`) with this venv, for a before/after figure
on the same machine; a command that checkout does not have is left out.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from medlabel.settings import PROJECT_ROOT

TARGET_S = 0.5
OWN_XML = """<View>
  <Text name="note" value="$text"/>
  <Choices name="urgent" toName="note"><Choice value="yes"/><Choice value="no"/></Choices>
</View>
"""


def commands(own_xml: Path) -> dict[str, list[str]]:
    return {
        "--help": ["--help"],
        "templates list": ["templates", "list"],
        "templates show": ["templates", "show", "chest_xray_chexpert"],
        "templates validate FILE": ["templates", "validate", str(own_xml)],
        "templates validate ID": ["templates", "validate", "ktas_triage"],
        "templates validate ID --deep": ["templates", "validate", "--deep", "ktas_triage"],
    }


#: Commands timed for information, not held to the target (see the module docstring).
UNTARGETED = frozenset({"templates validate ID --deep"})


def wall(argv: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="timed runs per command (after one warm-up)")
    parser.add_argument("--tree", type=Path, default=PROJECT_ROOT, help="medlabel checkout to time")
    args = parser.parse_args()
    # `python -c` puts the working directory first on sys.path, so `--tree`'s medlabel is the one imported.
    cli = [sys.executable, "-c", "from medlabel.cli import main; main()"]
    baseline = [sys.executable, "-c", "pass"]
    with tempfile.TemporaryDirectory() as tmp:
        own_xml = Path(tmp) / "three_lines.xml"
        own_xml.write_text(OWN_XML)
        todo = commands(own_xml)
        times: dict[str, list[float]] = {name: [] for name in ["python -c pass", *todo]}
        for name, extra in list(todo.items()):  # warm-up: file-system caches, .pyc files
            warm = subprocess.run([*cli, *extra], cwd=args.tree, capture_output=True)
            if warm.returncode != 0:
                print(f"left out: `{name}` fails in {args.tree} (exit {warm.returncode})")
                del todo[name]
                del times[name]
        for _ in range(args.runs):  # interleaved, so drifting machine load hits every command alike
            times["python -c pass"].append(wall(baseline, args.tree))
            for name, extra in todo.items():
                times[name].append(wall([*cli, *extra], args.tree))
    floor = statistics.median(times["python -c pass"])
    print(f"{args.tree}: median wall seconds of {args.runs} runs (python -c pass = {floor:.3f} s)")
    print(f"{'command':<30}{'median s':>10}{'min s':>8}{'x python':>10}  target ≤ {TARGET_S} s")
    for name in todo:
        median = statistics.median(times[name])
        verdict = "(no target)" if name in UNTARGETED else "ok" if median <= TARGET_S else "OVER"
        print(f"{name:<30}{median:>10.3f}{min(times[name]):>8.3f}{median / floor:>10.1f}  {verdict}")


if __name__ == "__main__":
    main()
