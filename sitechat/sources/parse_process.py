"""Parsing runs in a child process with its own memory and CPU limits.

A hostile or broken file (a PDF that loops, a compression bomb the checks missed) can then
exhaust only that process: the worker sees a failed parse and marks the run `failed`, and
never crashes or stalls. The parent writes one JSON header line and the file's bytes to the
child's stdin and reads one JSON document from its stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import asdict, dataclass
from typing import Any

import structlog

from sitechat.sources.filetypes import FileType
from sitechat.sources.parsing import (
    FileRejected,
    ParsedDocument,
    ParsedPage,
    ParseLimits,
    parse_file,
)

log = structlog.get_logger()

TOO_COSTLY = "The file could not be read within the time and memory limits for one file."

# Imported before the limits are set, so that the memory limit bounds the parse, not the
# import: a library loaded under a tight limit fails as an ImportError ("failed to map
# segment from shared object"), which would read as a damaged file.
PARSER_MODULES = ("pypdf", "pypdf.filters", "docx")


@dataclass(frozen=True)
class ProcessLimits:
    seconds: float = 120.0
    memory_bytes: int = 1_500_000_000


async def parse_in_child(
    data: bytes,
    file_type: FileType,
    file_name: str,
    limits: ParseLimits,
    process: ProcessLimits,
) -> ParsedDocument:
    """Parse in a child process; `FileRejected` for anything it could not turn into pages."""
    header = {
        "file_type": file_type.value,
        "file_name": file_name,
        "limits": asdict(limits),
        "memory_bytes": process.memory_bytes,
        "cpu_seconds": int(process.seconds) + 1,
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sitechat.sources.parse_process",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(
            child.communicate(json.dumps(header).encode() + b"\n" + data), process.seconds
        )
    except TimeoutError:
        child.kill()  # our own child, by its handle
        await child.wait()
        log.warning("sources.parse_timeout", file_type=file_type.value)
        raise FileRejected(TOO_COSTLY) from None
    if child.returncode != 0:
        log.warning(
            "sources.parse_process_failed",
            file_type=file_type.value,
            returncode=child.returncode,
            stderr=stderr[-500:].decode(errors="replace"),
        )
        raise FileRejected(TOO_COSTLY)
    return _document_of(json.loads(stdout))


def _document_of(answer: dict[str, Any]) -> ParsedDocument:
    if not answer.get("ok"):
        raise FileRejected(str(answer.get("error") or "The file cannot be read."))
    pages = [ParsedPage(**page) for page in answer["pages"]]
    return ParsedDocument(title=str(answer["title"]), pages=pages)


def _child_main() -> int:
    import importlib
    import resource

    for module in PARSER_MODULES:
        importlib.import_module(module)
    header = json.loads(sys.stdin.buffer.readline())
    memory = int(header["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(header["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    try:
        data = sys.stdin.buffer.read()
        document = parse_file(
            data,
            FileType(header["file_type"]),
            str(header["file_name"]),
            ParseLimits(**header["limits"]),
        )
        answer: dict[str, object] = {
            "ok": True,
            "title": document.title,
            "pages": [asdict(page) for page in document.pages],
        }
    except FileRejected as error:
        answer = {"ok": False, "error": str(error)}
    except MemoryError:
        answer = {"ok": False, "error": TOO_COSTLY}
    except RecursionError:
        answer = {"ok": False, "error": "The file is nested too deeply to be read."}
    except Exception:
        answer = {"ok": False, "error": "The file is damaged and cannot be read."}
    sys.stdout.write(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
