"""The console API's OpenAPI 3.1 document (served at ``/api/openapi.json``).

Message bodies refer to the published JSON Schemas of the topics (``schemas/``): an alert in the
API is the ``brink.alert/1`` record plus ``seq`` (store order, the SSE event id) and
``feedback`` (the ``brink.feedback/1`` record, or null).
"""

from __future__ import annotations

from typing import Any

from shared.schemas import Alert, EnrichedArticle, Feedback


def _param(name: str, description: str, where: str = "query", **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _json(ref: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


def _any(description: str = "OK") -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }


ERR = {
    "description": "error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
WRITE = {"401": {"description": "missing or wrong bearer token (when BRINK_CONSOLE_TOKEN is set)"}}
FILTERS = [
    _param("since", "alert time (last_seen, article time) from: ISO 8601 or a duration back (24h)"),
    _param("until", "alert time before: ISO 8601 or a duration back"),
    _param(
        "severity", "exactly this severity", enum=["info", "warning", "critical"], type="string"
    ),
    _param(
        "min_severity",
        "at least this severity",
        enum=["info", "warning", "critical"],
        type="string",
    ),
    _param("rule", "rule name (repeatable)"),
    _param("actor", "actor name or code (ISO alpha-3, org code), case-insensitive"),
    _param("target", "target name or code"),
    _param("kind", "signal kind"),
    _param("q", "words to find in alert text and the cited articles (FTS5, prefix match)"),
    _param("story", "alerts citing this story (article id)"),
    _param("group", "alert group key"),
    _param("limit", "at most this many (1-500, default 50)", type="integer"),
    _param(
        "before",
        "page: alerts with seq below this (next_before of the previous page)",
        type="integer",
    ),
]


def _schemas() -> dict[str, Any]:
    out: dict[str, Any] = {
        "Error": {"type": "object", "properties": {"error": {"type": "string"}}},
        "SilenceRequest": {
            "type": "object",
            "properties": {
                "group": {"type": "string"},
                "rule": {"type": "string"},
                "actor": {"type": "string"},
                "target": {"type": "string"},
                "kind": {"type": "string"},
                "for": {"type": "string", "description": "duration, e.g. 6h (default)"},
                "starts": {"type": "string", "format": "date-time"},
                "comment": {"type": "string"},
                "by": {"type": "string"},
            },
        },
        "ExplainRequest": {
            "type": "object",
            "properties": {
                "article_id": {"type": "string"},
                "title": {"type": "string"},
                "text": {"type": "string", "maxLength": 100000},
            },
        },
    }
    for name, model in (
        ("Alert", Alert),
        ("EnrichedArticle", EnrichedArticle),
        ("Feedback", Feedback),
    ):
        schema = model.model_json_schema(
            by_alias=True, mode="serialization", ref_template="#/components/schemas/{model}"
        )
        out.update(schema.pop("$defs", {}))
        out[name] = schema
    out["ConsoleAlert"] = {
        "allOf": [
            {"$ref": "#/components/schemas/Alert"},
            {
                "type": "object",
                "properties": {
                    "seq": {"type": "integer"},
                    "feedback": {
                        "anyOf": [{"$ref": "#/components/schemas/Feedback"}, {"type": "null"}]
                    },
                },
            },
        ]
    }
    return out


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Brink console API",
        "version": "1",
        "description": "Alerts, articles, stories, dyads, explain, silences and feedback. "
        "Write actions need Authorization: Bearer <BRINK_CONSOLE_TOKEN> when it is set.",
    },
    "paths": {
        "/api/alerts": {
            "get": {
                "summary": "alerts, newest first, filtered",
                "parameters": FILTERS,
                "responses": {"200": _any("{alerts: [ConsoleAlert], next_before}"), "400": ERR},
            }
        },
        "/api/alerts/{id}": {
            "get": {
                "summary": "one alert (with CAMEO/PLOVER and party codes)",
                "parameters": [_param("id", "alert id", "path")],
                "responses": {"200": _json("#/components/schemas/ConsoleAlert"), "404": ERR},
            }
        },
        "/api/alerts/{id}/ack": {
            "post": {
                "summary": "acknowledge (writes alerts.feedback)",
                "parameters": [_param("id", "alert id", "path")],
                "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {"200": _json("#/components/schemas/Feedback"), "404": ERR, **WRITE},
            }
        },
        "/api/alerts/{id}/feedback": {
            "post": {
                "summary": "mark a false alarm (writes alerts.feedback)",
                "parameters": [_param("id", "alert id", "path")],
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "false_alarm": {"type": "boolean"},
                                    "comment": {"type": "string"},
                                },
                            }
                        }
                    }
                },
                "responses": {"200": _json("#/components/schemas/Feedback"), "404": ERR, **WRITE},
            }
        },
        "/api/articles/{id}": {
            "get": {
                "summary": "one enriched article with its signals",
                "parameters": [_param("id", "article id", "path")],
                "responses": {"200": _json("#/components/schemas/EnrichedArticle"), "404": ERR},
            }
        },
        "/api/stories": {
            "get": {"summary": "alerts grouped by story", "responses": {"200": _any()}}
        },
        "/api/stories/{id}": {
            "get": {
                "summary": "one story: its copies and alerts",
                "parameters": [_param("id", "story (first copy's article) id", "path")],
                "responses": {"200": _any(), "404": ERR},
            }
        },
        "/api/dyads": {
            "get": {"summary": "actor -> target pairs seen", "responses": {"200": _any()}}
        },
        "/api/dyads/{actor}/{target}": {
            "get": {
                "summary": "articles per hour or day for a pair, by kind",
                "parameters": [
                    _param("actor", "name or code", "path"),
                    _param("target", "name or code", "path"),
                    _param("bucket", "hour or day (default)", enum=["hour", "day"], type="string"),
                ],
                "responses": {"200": _any()},
            }
        },
        "/api/explain": {
            "post": {
                "summary": "signals with negation/hedge/genre reasons, and per rule why it matched or not",
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/ExplainRequest"}
                        }
                    }
                },
                "responses": {"200": _any(), "400": ERR, "404": ERR, "413": ERR},
            }
        },
        "/api/silences": {
            "get": {"summary": "silences on alerts.silences", "responses": {"200": _any()}},
            "post": {
                "summary": "create a silence (writes alerts.silences)",
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/SilenceRequest"}
                        }
                    }
                },
                "responses": {"201": _any(), "400": ERR, **WRITE},
            },
        },
        "/api/silences/{id}": {
            "delete": {
                "summary": "expire a silence (a tombstone on alerts.silences)",
                "parameters": [_param("id", "silence id", "path")],
                "responses": {"200": _any(), **WRITE},
            }
        },
        "/api/stream": {
            "get": {
                "summary": "Server-Sent Events: event 'alert', id = seq; resumable with Last-Event-ID",
                "parameters": [
                    {"name": "Last-Event-ID", "in": "header", "schema": {"type": "integer"}},
                    *FILTERS,
                ],
                "responses": {
                    "200": {
                        "description": "text/event-stream",
                        "content": {"text/event-stream": {}},
                    }
                },
            }
        },
    },
    "components": {
        "schemas": _schemas(),
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    },
}
