"""The console's HTTP side: REST API (``/api/...``, OpenAPI at ``/api/openapi.json``),
Server-Sent Events (``/api/stream``), server-rendered pages, ``/metrics`` and ``/healthz``.

aiohttp (through `shared.webserver.BackgroundServer`: connection cap, timeouts, body limit) and
Jinja2 with autoescaping: every piece of article or alert text is escaped where it is rendered,
and a Content-Security-Policy without inline scripts keeps an injected ``<script>`` inert even
if a template ever forgot. Write actions (silences, acknowledgements, feedback) need
``Authorization: Bearer <BRINK_CONSOLE_TOKEN>`` when that is set, and a JSON body (a
cross-site HTML form cannot send one), and go to Kafka, never to the store directly: the store
sees them when it reads the topic back.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from jinja2 import Environment, FileSystemLoader
from prometheus_client import REGISTRY
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from services.alerting.rules import RuleSet, Silence, SilenceMatch, parse_duration
from services.console import highlight, metrics
from services.console.config import ConsoleConfig
from services.console.consumer import ControlWriter, fetch_article
from services.console.explain import explain
from services.console.openapi import OPENAPI
from services.console.store import SEVERITIES, AlertQuery, Repository
from shared import codec
from shared.codec import DecodeError
from shared.schemas import (
    Alert,
    EnrichedArticle,
    Evidence,
    Feedback,
    RawArticle,
    SignalKind,
    utcnow,
)
from shared.settings import Settings
from shared.webserver import Access, BackgroundServer, BodyTimeoutError, Limits, read_body

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
MAX_EXPLAIN_CHARS = 100_000
STREAM_POLL_SECONDS = 0.25
STREAM_HEARTBEAT_SECONDS = 15.0
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def token_ok(request: web.Request, token: str | None) -> bool:
    """Whether a write request carries the console's bearer token (always, when none is set):
    the comparison of `shared.webserver.Access`, applied to write actions only (pages and
    reads stay open to whoever can reach the console)."""
    access = Access(token=token or None, open_paths=frozenset())
    return access.allows(request.path, request.headers.get("Authorization", ""))


def parse_time(value: str | None, now: datetime) -> datetime | None:
    """ISO 8601, or a duration back from now (``24h``, ``7d``)."""
    if not value:
        return None
    try:
        return now - parse_duration(value)
    except ValueError:
        pass
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HttpError(400, f"not a time or duration: {value!r}") from None
    return at if at.tzinfo else at.replace(tzinfo=now.tzinfo)


def alert_query(q: Any, now: datetime) -> AlertQuery:
    def one(name: str) -> str | None:
        value = q.get(name)
        return str(value).strip() or None if value is not None else None

    try:
        limit = int(q.get("limit", 50))
        before = int(q["before"]) if q.get("before") else None
    except ValueError:
        raise HttpError(400, "limit and before must be integers") from None
    kind = one("kind")
    if kind and kind not in {k.value for k in SignalKind}:
        raise HttpError(400, f"unknown kind {kind!r}")
    for name in ("severity", "min_severity"):
        if one(name) and one(name) not in SEVERITIES:
            raise HttpError(400, f"{name} must be one of {', '.join(SEVERITIES)}")
    return AlertQuery(
        since=parse_time(one("since"), now),
        until=parse_time(one("until"), now),
        min_severity=one("min_severity"),
        severity=one("severity"),
        rules=tuple(r for r in q.getall("rule", []) if r) if hasattr(q, "getall") else (),
        actor=one("actor"),
        target=one("target"),
        kind=kind,
        q=one("q"),
        story=one("story"),
        group=one("group"),
        before=before,
        limit=limit,
    )


class Explainer:
    """The enrichment pipeline, loaded on first use (spaCy takes seconds and ~300 MB)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._enricher: Any = None

    def enrich_text(self, title: str, text: str) -> EnrichedArticle:
        from services.enrichment.pipeline import Enricher
        from services.ingest.normalise import normalise

        with self._lock:
            if self._enricher is None:
                self._enricher = Enricher(batch_size=1)
            article = normalise(RawArticle(title=title or None, text=text), utcnow())
            result: list[EnrichedArticle] = self._enricher.enrich([article])
        return result[0]


class Console:
    """Routes over one store, one Kafka writer and one rule set."""

    def __init__(
        self,
        settings: Settings,
        config: ConsoleConfig,
        *,
        store: Repository,
        writer: ControlWriter,
        rules: RuleSet,
        ready: Callable[[], tuple[bool, dict[str, object]]],
    ) -> None:
        self.settings = settings
        self.config = config
        self.store = store
        self.writer = writer
        self.rules = rules
        self.ready = ready
        self.explainer = Explainer() if config.explain else None
        self.stopping = threading.Event()
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"), autoescape=True, trim_blocks=True
        )
        self.templates.globals.update(severities=SEVERITIES, kinds=[k.value for k in SignalKind])
        self.templates.filters["when"] = _when
        limits = Limits(
            max_connections=256,
            max_body_bytes=config.max_body_bytes,
            workers=4,
            head_timeout=10.0,
            body_timeout=15.0,
        )
        self.server = BackgroundServer(
            self.routes(),
            config.host,
            config.port,
            limits,
            name="console",
            access=Access(certfile=config.certfile, keyfile=config.keyfile),
        )
        self.server.app.middlewares.append(self._middleware)
        self.server.app.router.add_static("/static", HERE / "static")

    # ------------------------------------------------------------------ plumbing
    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self.page_alerts),
            web.get("/alerts/{id}", self.page_alert),
            web.get("/stories", self.page_stories),
            web.get("/stories/{id}", self.page_story),
            web.get("/dyads", self.page_dyads),
            web.get("/dyads/{actor}/{target}", self.page_dyad),
            web.get("/explain", self.page_explain),
            web.post("/explain", self.page_explain),
            web.get("/silences", self.page_silences),
            web.get("/api/openapi.json", self.api_openapi),
            web.get("/api/alerts", self.api_alerts),
            web.get("/api/alerts/{id}", self.api_alert),
            web.post("/api/alerts/{id}/ack", self.api_ack),
            web.post("/api/alerts/{id}/feedback", self.api_feedback),
            web.get("/api/articles/{id}", self.api_article),
            web.get("/api/stories", self.api_stories),
            web.get("/api/stories/{id}", self.api_story),
            web.get("/api/dyads", self.api_dyads),
            web.get("/api/dyads/{actor}/{target}", self.api_dyad),
            web.post("/api/explain", self.api_explain),
            web.get("/api/silences", self.api_silences),
            web.post("/api/silences", self.api_silence_create),
            web.delete("/api/silences/{id}", self.api_silence_expire),
            web.get("/api/stream", self.api_stream),
            web.get("/metrics", self.metrics),
            web.get("/healthz", self.healthz),
        ]

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        kind = "api" if request.path.startswith("/api/") else "page"
        try:
            response = await handler(request)
        except HttpError as exc:
            response = self._error(request, exc.status, exc.message)
        except web.HTTPException as exc:
            if exc.status >= 400:
                response = self._error(request, exc.status, exc.reason)
            else:
                raise
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        metrics.REQUESTS.labels(kind=kind, status=f"{response.status // 100}xx").inc()
        return response

    def _error(self, request: web.Request, status: int, message: str) -> web.Response:
        if request.path.startswith("/api/"):
            return self._json({"error": message}, status)
        return self._page("error.html", status=status, message=message)

    def _json(self, data: Any, status: int = 200) -> web.Response:
        return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")

    def _page(self, name: str, status: int = 200, **context: Any) -> web.Response:
        html = self.templates.get_template(name).render(**context)
        return web.Response(status=status, text=html, content_type="text/html")

    async def _blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await self.server.run_blocking(fn, *args)

    async def _json_body(self, request: web.Request, write: bool = True) -> dict[str, Any]:
        if write and not token_ok(request, self.config.token):
            raise HttpError(401, "this action needs Authorization: Bearer <BRINK_CONSOLE_TOKEN>")
        if request.content_type != "application/json":
            raise HttpError(415, "send a JSON body (Content-Type: application/json)")
        try:
            body = await read_body(request, self.server.limits)
        except BodyTimeoutError:
            raise HttpError(408, "the body did not arrive in time") from None
        except web.HTTPRequestEntityTooLarge:
            raise HttpError(413, "request body too large") from None
        try:
            data = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError:
            raise HttpError(400, "malformed JSON") from None
        if not isinstance(data, dict):
            raise HttpError(400, "the body must be a JSON object")
        return data

    # ------------------------------------------------------------------ API: reading
    async def api_openapi(self, _request: web.Request) -> web.Response:
        return self._json(OPENAPI)

    async def api_alerts(self, request: web.Request) -> web.Response:
        query = alert_query(request.query, utcnow())
        items = await self._blocking(self.store.alerts, query)
        nxt = items[-1]["seq"] if len(items) == query.limit else None
        return self._json({"alerts": items, "next_before": nxt})

    async def _alert(self, alert_id: str) -> dict[str, Any]:
        alert = await self._blocking(self.store.alert, alert_id)
        if alert is None:
            raise HttpError(404, f"no alert {alert_id!r} in the console's store")
        return alert  # type: ignore[no-any-return]

    async def api_alert(self, request: web.Request) -> web.Response:
        alert = await self._alert(request.match_info["id"])
        alert["codes"] = await self._blocking(self._codes, alert)
        return self._json(alert)

    def _codes(self, alert: dict[str, Any]) -> dict[str, Any]:
        """CAMEO/PLOVER codes of the alert's kinds and ISO/org codes of its parties, from the
        cited articles' signals."""
        events: dict[str, dict[str, str]] = {}
        parties: dict[str, str] = {}
        for e in alert.get("evidence", []):  # alerts since issue 11 carry the codes themselves
            if e.get("cameo"):
                events.setdefault(e["kind"], {"cameo": e["cameo"], "plover": e.get("plover", "")})
            for role in ("actor", "target"):
                if e.get(role) and e.get(f"{role}_code"):
                    parties.setdefault(e[role], e[f"{role}_code"])
            article = self.store.article(e["article_id"])
            for s in (article or {}).get("signals", []):
                events.setdefault(s["kind"], {"cameo": s["cameo"], "plover": s["plover"]})
        names = alert["group"]["actors"] + alert["group"]["targets"]
        known = self.store.codes(n for n in names if n not in parties)
        return {"events": events, "parties": {**known, **parties}}

    async def api_article(self, request: web.Request) -> web.Response:
        article = await self._blocking(self._article, request.match_info["id"])
        if article is None:
            raise HttpError(404, "no such article on articles.enriched")
        return self._json(article)

    def _article(self, article_id: str) -> dict[str, Any] | None:
        """An article from the store, or else read from its partition of ``articles.enriched``
        and kept (the store holds only articles with signals or cited by an alert)."""
        article = self.store.article(article_id)
        if article is not None:
            return article
        raw = fetch_article(self.settings, article_id)
        if raw is None:
            return None
        try:
            self.store.put_article(codec.decode(raw, EnrichedArticle))
        except DecodeError:
            return None
        return self.store.article(article_id)

    async def api_stories(self, request: web.Request) -> web.Response:
        return self._json({"stories": await self._blocking(self.store.stories, 100)})

    async def api_story(self, request: web.Request) -> web.Response:
        story = request.match_info["id"]
        alerts = await self._blocking(self.store.alerts, AlertQuery(story=story, limit=200))
        copies = await self._blocking(self.store.article_copies, story)
        if not alerts and not copies:
            raise HttpError(404, f"no story {story!r}")
        return self._json({"story": story, "articles": copies, "alerts": alerts})

    async def api_dyads(self, _request: web.Request) -> web.Response:
        return self._json({"dyads": await self._blocking(self.store.dyads, 100)})

    async def api_dyad(self, request: web.Request) -> web.Response:
        actor, target = request.match_info["actor"], request.match_info["target"]
        bucket = "hour" if request.query.get("bucket") == "hour" else "day"
        series = await self._blocking(self.store.dyad_timeline, actor, target, bucket)
        return self._json({"actor": actor, "target": target, "bucket": bucket, "series": series})

    async def api_silences(self, _request: web.Request) -> web.Response:
        return self._json({"silences": await self._blocking(self._silences)})

    def _silences(self) -> list[dict[str, Any]]:
        now = utcnow()
        out = []
        for s in self.store.silences():
            starts, ends = (
                datetime.fromisoformat(s["starts_at"]),
                datetime.fromisoformat(s["ends_at"]),
            )
            s["state"] = "pending" if now < starts else "active" if now < ends else "expired"
            out.append(s)
        return sorted(out, key=lambda s: s["ends_at"], reverse=True)

    # ------------------------------------------------------------------ API: writing
    async def api_silence_create(self, request: web.Request) -> web.Response:
        data = await self._json_body(request)
        match_fields = {
            k: data.get(k) or None for k in ("group", "rule", "actor", "target", "kind")
        }
        try:
            match = SilenceMatch(**match_fields)
            duration = parse_duration(data.get("for", "6h"))
            starts = datetime.fromisoformat(data["starts"]) if data.get("starts") else utcnow()
        except (ValidationError, ValueError, TypeError) as exc:
            raise HttpError(400, f"bad silence: {exc}") from None
        if not any(match.model_dump().values()):
            raise HttpError(400, "say what to silence: group, rule, actor, target or kind")
        if match.group and not await self._blocking(self._group_known, match.group):
            raise HttpError(400, f"no alert has group key {match.group!r}")
        silence = Silence(
            id=uuid.uuid4().hex[:12],
            match=match,
            starts_at=starts,
            ends_at=starts + duration,
            comment=str(data.get("comment", ""))[:500],
            created_by=str(data.get("by", "console"))[:100],
        )
        await self._blocking(
            self.writer.send, self.settings.topics.silences, silence.id, codec.encode(silence)
        )
        metrics.ACTIONS.labels(action="silence").inc()
        return self._json(silence.model_dump(mode="json"), 201)

    def _group_known(self, key: str) -> bool:
        return bool(self.store.alerts(AlertQuery(group=key, limit=1)))

    async def api_silence_expire(self, request: web.Request) -> web.Response:
        if not token_ok(request, self.config.token):
            raise HttpError(401, "this action needs Authorization: Bearer <BRINK_CONSOLE_TOKEN>")
        sid = request.match_info["id"]
        await self._blocking(self.writer.send, self.settings.topics.silences, sid, None)
        metrics.ACTIONS.labels(action="expire").inc()
        return self._json({"expired": sid})

    async def _write_feedback(self, alert_id: str, **changes: Any) -> Feedback:
        alert = await self._blocking(self.store.alert_model, alert_id)
        if alert is None:
            raise HttpError(404, f"no alert {alert_id!r}")
        old: Feedback | None = await self._blocking(self.store.feedback, alert_id)
        base: dict[str, Any] = old.model_dump() if old else {"alert_id": alert_id}
        base.update(group_key=alert.group.key, rule=alert.rule, at=utcnow(), **changes)
        try:
            fb = Feedback(**base)
        except ValidationError as exc:
            raise HttpError(400, f"bad feedback: {exc.errors()[0]['msg']}") from None
        await self._blocking(
            self.writer.send, self.settings.topics.feedback, alert_id, codec.encode(fb)
        )
        return fb

    async def api_ack(self, request: web.Request) -> web.Response:
        data = await self._json_body(request)
        by = str(data.get("by", "console"))[:200]
        fb = await self._write_feedback(
            request.match_info["id"],
            acknowledged=bool(data.get("acknowledged", True)),
            acknowledged_by=by,
            acknowledged_at=utcnow(),
            by=by,
        )
        metrics.ACTIONS.labels(action="ack").inc()
        return self._json(fb.model_dump(mode="json", by_alias=True))

    async def api_feedback(self, request: web.Request) -> web.Response:
        data = await self._json_body(request)
        fb = await self._write_feedback(
            request.match_info["id"],
            false_alarm=bool(data.get("false_alarm", True)),
            comment=str(data.get("comment", "")),
            by=str(data.get("by", "console"))[:200],
        )
        metrics.ACTIONS.labels(action="feedback").inc()
        return self._json(fb.model_dump(mode="json", by_alias=True))

    # ------------------------------------------------------------------ explain
    async def _explain(self, article_id: str | None, title: str, text: str) -> dict[str, Any]:
        if article_id:
            raw = await self._blocking(self._article, article_id)
            if raw is None:
                raise HttpError(404, f"no article {article_id!r} on articles.enriched")
            enriched = EnrichedArticle.model_validate(raw)
        else:
            if not text.strip():
                raise HttpError(400, "give an article id or some text")
            if len(text) > MAX_EXPLAIN_CHARS:
                raise HttpError(413, f"text over {MAX_EXPLAIN_CHARS} characters")
            if self.explainer is None:
                raise HttpError(503, "explaining text is off (BRINK_CONSOLE_EXPLAIN=off)")
            try:
                enriched = await self._blocking(self.explainer.enrich_text, title, text)
            except DecodeError as exc:
                raise HttpError(400, f"cannot read that text: {exc.detail}") from None
        result = explain(self.rules, enriched)
        text_, marks = highlight.marks_for(enriched)
        result["segments"] = highlight.segments(text_, marks)
        return result

    async def api_explain(self, request: web.Request) -> web.Response:
        data = await self._json_body_open(request)
        result = await self._explain(
            data.get("article_id"), str(data.get("title", "")), str(data.get("text", ""))
        )
        result["segments"] = [{"text": s.text, "css": s.css} for s in result["segments"]]
        return self._json(result)

    async def _json_body_open(self, request: web.Request) -> dict[str, Any]:
        """A JSON body for a read-only POST (explain): it writes nothing, so no token."""
        return await self._json_body(request, write=False)

    # ------------------------------------------------------------------ SSE
    async def api_stream(self, request: web.Request) -> web.StreamResponse:
        """New alerts as Server-Sent Events (``id`` = the store's sequence number). With
        ``Last-Event-ID`` (or ``?last_event_id=``) it resumes after that event; without, it
        starts with the alerts stored from now on. Filters as for ``/api/alerts``."""
        last_raw = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
        try:
            last = int(last_raw) if last_raw else await self._blocking(self.store.last_seq)
        except ValueError:
            raise HttpError(400, "Last-Event-ID must be an integer") from None
        query = alert_query(request.query, utcnow())
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
                "Content-Security-Policy": CSP,
            }
        )
        await response.prepare(request)
        await response.write(b"retry: 2000\n\n")
        metrics.STREAM_CLIENTS.inc()
        loop = asyncio.get_running_loop()
        beat = loop.time()
        try:
            while not self.stopping.is_set():
                items = await self._blocking(self._after, last, query)
                for item in items:
                    last = item["seq"]
                    await response.write(
                        b"id: %d\nevent: alert\ndata: %s\n\n" % (last, orjson.dumps(item))
                    )
                if loop.time() - beat > STREAM_HEARTBEAT_SECONDS:
                    await response.write(b": keep-alive\n\n")
                    beat = loop.time()
                await asyncio.sleep(STREAM_POLL_SECONDS)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            metrics.STREAM_CLIENTS.dec()
        return response

    def _after(self, seq: int, query: AlertQuery) -> list[dict[str, Any]]:
        return self.store.alerts(query, after=seq)

    # ------------------------------------------------------------------ ops
    async def metrics(self, _request: web.Request) -> web.Response:
        body = await self._blocking(generate_latest, REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(self, _request: web.Request) -> web.Response:
        ok, details = self.ready()
        body = orjson.dumps({"status": "ok" if ok else "unhealthy", **details})
        return web.Response(status=200 if ok else 503, body=body, content_type="application/json")

    # ------------------------------------------------------------------ pages
    def _base(self, request: web.Request) -> dict[str, Any]:
        return {"token_required": bool(self.config.token), "path": request.path}

    async def page_alerts(self, request: web.Request) -> web.Response:
        query = alert_query(request.query, utcnow())
        items = await self._blocking(self.store.alerts, query)
        rules = sorted(r.name for r in self.rules.rules)
        return self._page(
            "alerts.html",
            **self._base(request),
            alerts=items,
            q=request.query,
            rules=rules,
            last_seq=max((a["seq"] for a in items), default=0),
            stream_query=request.query_string,
        )

    async def page_alert(self, request: web.Request) -> web.Response:
        alert = await self._alert(request.match_info["id"])
        model = Alert.model_validate(
            {k: v for k, v in alert.items() if k not in ("seq", "feedback")}
        )
        codes = await self._blocking(self._codes, alert)
        articles = []
        for a in model.articles:
            raw = await self._blocking(self.store.article, a.id)
            evidence = [e for e in model.evidence if e.article_id == a.id]
            copies = await self._blocking(self.store.article_copies, a.id)
            articles.append(self._article_view(a.id, a.model_dump(), raw, evidence, copies))
        return self._page(
            "alert.html",
            **self._base(request),
            alert=alert,
            model=model,
            codes=codes,
            articles=articles,
        )

    def _article_view(
        self,
        article_id: str,
        meta: dict[str, Any],
        raw: dict[str, Any] | None,
        evidence: list[Evidence],
        copies: list[dict[str, Any]],
    ) -> dict[str, Any]:
        if raw is None:
            return {"id": article_id, "meta": meta, "segments": None, "evidence": evidence}
        enriched = EnrichedArticle.model_validate(raw)
        text, marks = highlight.marks_for(enriched, evidence or None)
        return {
            "id": article_id,
            "meta": meta,
            "enriched": enriched,
            "segments": highlight.segments(text, marks),
            "evidence": evidence,
            "copies": [c for c in copies if c["id"] != article_id],
        }

    async def page_stories(self, request: web.Request) -> web.Response:
        stories = await self._blocking(self.store.stories, 100)
        return self._page("stories.html", **self._base(request), stories=stories)

    async def page_story(self, request: web.Request) -> web.Response:
        story = request.match_info["id"]
        alerts = await self._blocking(self.store.alerts, AlertQuery(story=story, limit=200))
        copies = await self._blocking(self.store.article_copies, story)
        raw = await self._blocking(self.store.article, story)
        view = self._article_view(story, {}, raw, [], copies) if raw else None
        if not alerts and raw is None:
            raise HttpError(404, f"no story {story!r}")
        return self._page(
            "story.html", **self._base(request), story=story, alerts=alerts, article=view
        )

    async def page_dyads(self, request: web.Request) -> web.Response:
        dyads = await self._blocking(self.store.dyads, 100)
        return self._page("dyads.html", **self._base(request), dyads=dyads)

    async def page_dyad(self, request: web.Request) -> web.Response:
        actor, target = request.match_info["actor"], request.match_info["target"]
        bucket = "hour" if request.query.get("bucket") == "hour" else "day"
        series = await self._blocking(self.store.dyad_timeline, actor, target, bucket)
        alerts = await self._blocking(
            self.store.alerts, AlertQuery(actor=actor, target=target, limit=100)
        )
        peak = max((p["articles"] for p in series), default=0)
        return self._page(
            "dyad.html",
            **self._base(request),
            actor=actor,
            target=target,
            bucket=bucket,
            series=series,
            peak=peak,
            alerts=alerts,
        )

    async def page_explain(self, request: web.Request) -> web.Response:
        result = None
        form: dict[str, str] = {}
        if request.method == "POST":
            try:
                posted = await request.post()
            except web.HTTPRequestEntityTooLarge:
                raise HttpError(413, "text too large") from None
            form = {k: str(v) for k, v in posted.items() if isinstance(v, str)}
            result = await self._explain(
                form.get("article_id") or None, form.get("title", ""), form.get("text", "")
            )
        elif request.query.get("article_id"):
            form = {"article_id": request.query["article_id"]}
            result = await self._explain(form["article_id"], "", "")
        return self._page("explain.html", **self._base(request), result=result, form=form)

    async def page_silences(self, request: web.Request) -> web.Response:
        silences = await self._blocking(self._silences)
        return self._page(
            "silences.html",
            **self._base(request),
            silences=silences,
            group=request.query.get("group", ""),
        )


def _when(value: Any) -> str:
    if not value:
        return ""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at.strftime("%Y-%m-%d %H:%MZ")
