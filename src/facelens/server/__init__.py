"""The facelens server: an authenticated REST API, a camera daemon, alert review and the
integrations (MQTT, webhooks, SSE) around the library. See docs/service.md.

    facelens serve --db people.db --config facelens.toml
    from facelens.server.app import create_app      # an ASGI app, for other servers
"""
