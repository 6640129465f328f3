"""The API routes, one module per family, all under /api/v1 (health is at the root).

Each route declares who may call it (``**allow(...)``, see auth.py), turns HTTP input into the
typed arguments of a use case or library call, runs heavy work on the bounded worker pool, and
returns the JSON the CLI's ``--json`` prints for the same operation. No recognition logic here.
"""

from . import access, admin, alerts, audit, cameras, health, recognition, reports, subjects, unknowns

API_ROUTERS = (subjects.router, recognition.router, cameras.router, alerts.router, access.router, reports.router,
               unknowns.router, audit.router, admin.router)
ROOT_ROUTERS = (health.router,)
