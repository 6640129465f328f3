"""`facelens keys create|list|revoke`: the server's API keys (stored hashed; shown once)."""

from __future__ import annotations

import json
import sys
from typing import Optional

import typer

keys_app = typer.Typer(help="API keys of the server (roles: admin, operator, viewer, device).", no_args_is_help=True)
DB_HELP = "Database: a SQLite path or postgresql:// URL (default: $FACELENS_DB or the data dir)."


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")


def _store(db: Optional[str]):
    from ..gallery import Gallery
    from ..server.auth import KeyStore

    gallery = Gallery(db, create_key=True)
    return gallery, KeyStore(gallery)


@keys_app.command("create")
def create(
    name: str = typer.Argument(..., help="Who or what holds the key (1–64 letters, digits, _ . @ -)."),
    role: str = typer.Option(..., "--role", help="admin, operator, viewer or device."),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help='Print {"name", "role", "key"}.'),
) -> None:
    """Create a key and print it once: only its hash is stored."""
    gallery, keys = _store(db)
    try:
        made = keys.create(name, role, by="cli")
    finally:
        gallery.close()
    if as_json:
        print(json.dumps(made))
        return
    print(made["key"])
    print(f"facelens: created key {name!r} with role {role}; it is shown only this once", file=sys.stderr)


@keys_app.command("list")
def list_keys(
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Keys with their role, creation and last use (never the keys themselves)."""
    gallery, keys = _store(db)
    try:
        rows = keys.list()
    finally:
        gallery.close()
    if as_json:
        print(json.dumps({"keys": rows}))
        return
    for row in rows:
        status = f"revoked {row['revoked_at']}" if row["revoked_at"] else f"last used {row['last_used_at'] or 'never'}"
        print(f"{row['name']}\t{row['role']}\tcreated {row['created_at']}\t{status}")
    print(f"{sum(r['revoked_at'] is None for r in rows)} active key(s)", file=sys.stderr)


@keys_app.command("revoke")
def revoke(
    name: str = typer.Argument(..., help="The key's name."),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Revoke a key: refused at once by a server that did not see it in the last few seconds,
    and within key_cache_s (10 s) by one that did."""
    gallery, keys = _store(db)
    try:
        keys.revoke(name, by="cli")
    finally:
        gallery.close()
    print(f"revoked key {name!r}")
