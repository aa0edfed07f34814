"""A minimal Faust agent for the foundation test: decodes Articles with the shared codec
from one topic and writes them, re-encoded, to another. Topics come from the environment."""

from __future__ import annotations

import os

from shared import codec
from shared.faust_app import make_app
from shared.schemas import Article
from shared.settings import Settings

settings = Settings.from_env()
app = make_app(settings, "faust-echo")
source = app.topic(os.environ["ECHO_IN"], key_type=bytes, value_type=bytes)
sink = app.topic(os.environ["ECHO_OUT"], key_type=bytes, value_type=bytes)


@app.agent(source)
async def echo(stream):  # type: ignore[no-untyped-def]
    async for key, value in stream.items():
        article = codec.decode(value, Article)
        await sink.send(key=key, value=codec.encode(article))
