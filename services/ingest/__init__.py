"""The ingest service: articles.raw (and HTTP) -> validated, normalised, deduplicated articles."""
