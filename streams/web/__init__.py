"""The web side on the worker's port: the ingest API, the report form, the situation board, the webhooks,
health and auth. It sees the running worker through streams.web.ports, never the app."""
