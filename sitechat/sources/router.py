"""Knowledge sources: adding them (text, Q&A, files), file replacement, re-sync schedules and
the runs' diffs, under `/v1/chatbots/{id}/sources`. Listing and deleting sources stay with the
chatbot (`chatbots/router.py`)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from starlette.datastructures import UploadFile

from sitechat.auth.dependencies import AdminDep, CallerDep
from sitechat.billing.dependencies import PlansDep
from sitechat.chatbots import service as chatbot_service
from sitechat.chatbots.schemas import SourceRead
from sitechat.core.db import JobBufferDep, SessionDep
from sitechat.core.errors import ProblemError
from sitechat.core.pagination import DEFAULT_LIMIT, CursorPage, CursorParam, LimitParam
from sitechat.core.routing import api_router
from sitechat.core.state import app_state
from sitechat.knowledge.dependencies import DenseDep
from sitechat.sources import service
from sitechat.sources.errors import MissingFile
from sitechat.sources.schemas import (
    FileUrlSourceCreate,
    RunDetail,
    RunRead,
    SourceCreate,
    SourceDetail,
    SourceUpdate,
)

router = api_router(prefix="/chatbots", tags=["sources"])

# The routes that take a file: the body cap of `core/middleware.py` is raised for them.
UPLOAD_ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("POST", re.compile(r"/v1/chatbots/[^/]+/sources/?")),
    ("PUT", re.compile(r"/v1/chatbots/[^/]+/sources/[^/]+/file/?")),
)
FILE_PART = "file"
_SOURCE_CREATE: TypeAdapter[Any] = TypeAdapter(SourceCreate)

SOURCE_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such chatbot or source in this workspace."}
}
UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    402: {"description": "`quota-exceeded`: the plan's pages for this month are used."},
    413: {"description": "`file-too-large`: above the plan's `file_max_bytes`."},
    415: {"description": "`unsupported-file-type`: not PDF, DOCX, HTML, Markdown or text."},
    422: {"description": "`missing-file` or `validation-error`."},
}
_FILE_BODY = {
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "required": [FILE_PART],
            "properties": {FILE_PART: {"type": "string", "format": "binary"}},
        }
    }
}


def _inline_references(node: Any, definitions: dict[str, Any]) -> Any:
    """The schema with its `$ref`s replaced by their definitions: the JSON body has no
    parameter of its own (the route reads JSON or multipart itself), so FastAPI adds none of
    its models to the document's components."""
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline_references(definitions[node["$ref"].rsplit("/", 1)[-1]], definitions)
        return {
            key: _inline_references(value, definitions)
            for key, value in node.items()
            if key not in ("$defs", "mapping")
        }
    if isinstance(node, list):
        return [_inline_references(item, definitions) for item in node]
    return node


def _json_body_schema() -> dict[str, Any]:
    schema = _SOURCE_CREATE.json_schema()
    return dict(_inline_references(schema, schema.get("$defs", {})))


_JSON_BODY = {
    "application/json": {
        "schema": _json_body_schema(),
        "examples": {
            "text": {
                "value": {
                    "kind": "text",
                    "title": "Opening hours",
                    "content": "# Opening hours\n\nWe are open 9-17 on weekdays.",
                }
            },
            "qa": {
                "value": {
                    "kind": "qa",
                    "question": "Do you ship abroad?",
                    "answer": "Yes, to every EU country.",
                }
            },
            "file_url": {
                "value": {
                    "kind": "file",
                    "url": "https://www.example.com/handbook.pdf",
                    "sync_schedule": "weekly",
                }
            },
        },
    }
}


class UnsupportedMediaType(ProblemError):
    status = 415
    slug = "unsupported-media-type"


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _json_body(request: Request) -> Any:
    try:
        return _SOURCE_CREATE.validate_json(await request.body())
    except ValidationError as error:
        errors = error.errors(include_url=False)
        for item in errors:
            item["loc"] = ("body", *item["loc"])
        raise RequestValidationError(errors) from None


async def _uploaded_file(request: Request) -> tuple[str | None, bytes]:
    """The `file` part (spooled to disk past 1 MB by Starlette): its name and bytes."""
    form = await request.form(max_files=1, max_fields=10)
    try:
        upload = form.get(FILE_PART)
        if not isinstance(upload, UploadFile):
            raise MissingFile()
        return upload.filename, await upload.read()
    finally:
        await form.close()


@router.post(
    "/{chatbot_id}/sources",
    status_code=status.HTTP_201_CREATED,
    response_model=None,
    responses={
        201: {"model": SourceRead, "description": "A text or Q&A source, already searchable."},
        202: {"model": SourceDetail, "description": "A file source, queued for parsing."},
        404: {"description": "No such chatbot in this workspace."},
        **UPLOAD_ERRORS,
    },
    openapi_extra={"requestBody": {"required": True, "content": {**_JSON_BODY, **_FILE_BODY}}},
)
async def add_source(
    request: Request,
    response: Response,
    session: SessionDep,
    jobs: JobBufferDep,
    plans: PlansDep,
    dense: DenseDep,
    caller: AdminDep,
    chatbot_id: uuid.UUID,
) -> object:
    """Add a knowledge source.

    - **JSON** `{"kind": "text", ...}` or `{"kind": "qa", ...}`: indexed in this request
      (201), searchable as soon as it returns; a `draft` chatbot becomes `ready`.
    - **JSON** `{"kind": "file", "url": ..., "sync_schedule": "weekly"}`: a file fetched from a
      URL (202), then again on its schedule with a conditional request.
    - **multipart/form-data** with a `file` part (PDF, DOCX, HTML, Markdown or plain text):
      202 with the source `queued`; a job parses it into pages (a PDF keeps its page numbers,
      so answers cite "page 4") and indexes them; `GET .../sources/{id}` shows the status and
      any error. The type is told by the file's content, not its name (415 otherwise); the
      plan caps the size (413). Pages count against the plan like crawled pages.

    Website sources come from crawls (`POST .../crawls`). Needs the admin role."""
    content_type = _content_type(request)
    if content_type == "multipart/form-data":
        response.status_code = status.HTTP_202_ACCEPTED
        return await service.add_file_source(
            session, jobs, plans, caller, chatbot_id, lambda: _uploaded_file(request)
        )
    if content_type != "application/json":
        raise UnsupportedMediaType("Send JSON, or a file as multipart/form-data.")
    body = await _json_body(request)
    if isinstance(body, FileUrlSourceCreate):
        response.status_code = status.HTTP_202_ACCEPTED
        settings = app_state(request).settings.crawl
        return await service.add_file_url_source(
            session, jobs, plans, caller, chatbot_id, body, settings
        )
    return await chatbot_service.add_source(session, jobs, dense, caller, chatbot_id, body)


@router.get(
    "/{chatbot_id}/sources/{source_id}", response_model=SourceDetail, responses=SOURCE_NOT_FOUND
)
async def get_source(
    session: SessionDep, caller: CallerDep, chatbot_id: uuid.UUID, source_id: uuid.UUID
) -> object:
    """One source with its status (`queued`, `processing`, `ready`, `failed` with `error`),
    its page count, its schedule and its latest run. A failed replacement leaves the previous
    version of a file searchable."""
    return await service.read_source(session, caller, chatbot_id, source_id)


@router.patch(
    "/{chatbot_id}/sources/{source_id}",
    response_model=SourceDetail,
    responses={
        **SOURCE_NOT_FOUND,
        402: {"description": "`schedule-not-in-plan` (with `upgrade_plan_id`)."},
        422: {
            "description": "`not-syncable`: text, Q&A and uploaded files have no schedule; "
            "`not-editable`: a field another kind of source has."
        },
    },
)
async def update_source(
    session: SessionDep,
    jobs: JobBufferDep,
    dense: DenseDep,
    plans: PlansDep,
    caller: AdminDep,
    chatbot_id: uuid.UUID,
    source_id: uuid.UUID,
    body: SourceUpdate,
) -> object:
    """Change a source:

    - a website's or a file fetched from a URL's re-sync schedule: `off`, `daily` or `weekly`
      (the plan's `syncs_per_week` sets the most frequent). A re-sync sends each stored page's
      `ETag` / `Last-Modified` back, so an unchanged page costs one request and no re-indexing;
    - a text source's `title` and `content`, a Q&A source's `question` and `answer`: indexed
      again in the request, so the next answer quotes the new text and never the old.

    An uploaded file is replaced with `PUT .../file`. Needs the admin role."""
    return await service.update_source(
        session, jobs, dense, plans, caller, chatbot_id, source_id, body
    )


@router.put(
    "/{chatbot_id}/sources/{source_id}/file",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SourceDetail,
    responses={
        **SOURCE_NOT_FOUND,
        409: {"description": "`not-a-file-source`."},
        **UPLOAD_ERRORS,
    },
    openapi_extra={"requestBody": {"required": True, "content": _FILE_BODY}},
)
async def replace_file(
    request: Request,
    session: SessionDep,
    jobs: JobBufferDep,
    plans: PlansDep,
    caller: AdminDep,
    chatbot_id: uuid.UUID,
    source_id: uuid.UUID,
) -> object:
    """Upload a new version of an uploaded file (multipart/form-data, a `file` part). Only the
    pages whose content changed are re-indexed; pages the new version lacks are removed; the
    run's diff says which. Needs the admin role."""

    async def read_file() -> tuple[str | None, bytes]:
        if _content_type(request) != "multipart/form-data":
            raise UnsupportedMediaType("Send the file as multipart/form-data.")
        return await _uploaded_file(request)

    # The body is read once the source is found: a foreign ID is a 404 whatever was sent.
    return await service.replace_file(
        session, jobs, plans, caller, chatbot_id, source_id, read_file
    )


@router.post(
    "/{chatbot_id}/sources/{source_id}/sync",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SourceDetail,
    responses={
        **SOURCE_NOT_FOUND,
        409: {"description": "`sync-in-progress`."},
        422: {"description": "`not-syncable`: only files fetched from a URL."},
    },
)
async def sync_source(
    session: SessionDep,
    jobs: JobBufferDep,
    caller: AdminDep,
    chatbot_id: uuid.UUID,
    source_id: uuid.UUID,
) -> object:
    """Fetch a file source's URL again now (a website re-syncs with `POST .../crawls`).
    Needs the admin role."""
    return await service.sync_now(session, jobs, caller, chatbot_id, source_id)


@router.get(
    "/{chatbot_id}/sources/{source_id}/runs",
    response_model=CursorPage[RunRead],
    responses=SOURCE_NOT_FOUND,
)
async def list_runs(
    session: SessionDep,
    caller: CallerDep,
    chatbot_id: uuid.UUID,
    source_id: uuid.UUID,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
) -> object:
    """The source's runs, newest first, each with its diff counts (pages new, changed,
    unchanged, removed): a file's uploads, replacements and scheduled fetches, or a
    website's crawls (scheduled ones have `trigger: schedule`)."""
    items, next_cursor = await service.list_runs(
        session, caller, chatbot_id, source_id, cursor=cursor, limit=limit
    )
    return CursorPage[RunRead](items=items, next_cursor=next_cursor)


@router.get(
    "/{chatbot_id}/sources/{source_id}/runs/{run_id}",
    response_model=RunDetail,
    responses={404: {"description": "No such chatbot, source or run in this workspace."}},
)
async def get_run(
    session: SessionDep,
    caller: CallerDep,
    chatbot_id: uuid.UUID,
    source_id: uuid.UUID,
    run_id: uuid.UUID,
) -> object:
    """One file run with its page-by-page diff (`new`, `changed`, `unchanged`, `removed`).
    A crawl's pages are at `GET /v1/crawls/{id}/pages`."""
    return await service.read_run(session, caller, chatbot_id, source_id, run_id)
