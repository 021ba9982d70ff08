"""The HTTP service (issue 4): FastAPI app, /v1 API, moderator page, metrics, webhooks.

``create_app(settings)`` builds the app; ``python serve.py`` runs it. This package imports
``scoring``, ``policy`` and ``review``; none of them imports it. docs/service.md is the
contract between the parts.
"""

from moderation.web.app import create_app

__all__ = ["create_app"]
