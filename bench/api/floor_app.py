"""The baselines SiteChat's authenticated read is measured against, on the same server settings.

- `/hello`: a bare FastAPI endpoint (context: what the framework itself costs).
- `/floor/chatbots/{id}`: the least work that is still the same job — decode the caller's JWT
  and fetch one row by primary key with raw asyncpg. No ORM, no tenancy checks, no logging.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import jwt
from fastapi import FastAPI, Header, HTTPException
from fastapi.responses import ORJSONResponse

DATABASE_URL = os.environ["BENCH_FLOOR_DATABASE_URL"]
JWT_SECRET = os.environ["BENCH_FLOOR_JWT_SECRET"]
POOL: dict[str, asyncpg.Pool] = {}


@contextlib.asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    POOL["db"] = await asyncpg.create_pool(DATABASE_URL, min_size=2, max_size=10)
    yield
    await POOL["db"].close()


app = FastAPI(lifespan=lifespan, default_response_class=ORJSONResponse)


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


@app.get("/floor/chatbots/{chatbot_id}")
async def floor_chatbot(chatbot_id: uuid.UUID, authorization: str = Header()) -> dict[str, object]:
    token = authorization.removeprefix("Bearer ")
    try:
        jwt.decode(token, JWT_SECRET, algorithms=["HS256"], audience="sitechat-api")
    except jwt.PyJWTError:
        raise HTTPException(401) from None
    row = await POOL["db"].fetchrow("SELECT * FROM chatbots WHERE id = $1", chatbot_id)
    if row is None:
        raise HTTPException(404)
    return {
        key: (str(value) if isinstance(value, uuid.UUID) else value) for key, value in row.items()
    }
