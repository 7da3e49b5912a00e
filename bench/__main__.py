"""`make bench`: every benchmark, one table each, results saved as JSON and Markdown."""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
BENCHMARKS = [
    "bench.api.run",
    "bench.crawl.run",
    "bench.chat.run",
    "bench.retrieval.run",
    "bench.answers.run",
    "bench.embed.run",
    "bench.analytics.run",
]


def main(selected: list[str]) -> None:
    RESULTS.mkdir(exist_ok=True)
    names = [name for name in BENCHMARKS if not selected or name.split(".")[1] in selected]
    summary: dict[str, object] = {
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    markdown = []
    for name in names:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            print(f"## {name}: not available ({error})")
            continue
        print(f"## {name}")
        result = module.main()
        summary[name] = result
        markdown.append(f"## {name}\n\n{result.get('table', '')}\n")
    (RESULTS / "latest.json").write_text(json.dumps(summary, indent=2, default=str))
    (RESULTS / "latest.md").write_text("\n".join(markdown))


if __name__ == "__main__":
    main(sys.argv[1:])
