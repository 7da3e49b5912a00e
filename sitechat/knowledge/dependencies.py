"""The process's dense retrieval for a request (`DenseDep`): the `DenseSetup` the app
provided at start, None when retrieval is lexical only."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sitechat.core.state import app_state
from sitechat.knowledge.dense import DenseRetrieval, DenseSetup


async def get_dense(request: Request) -> DenseRetrieval | None:
    return app_state(request).component(DenseSetup).dense


DenseDep = Annotated[DenseRetrieval | None, Depends(get_dense)]
