"""`budgetline serve | migrate | create-api-key | demo | check-ledger | sweep`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from budgetline.observability import configure_logging
from budgetline.settings import Settings, get_settings
from db import embedded, migrate
from db.session import ensure_database, with_database

log = logging.getLogger("budgetline")

EMBEDDED_DATABASE = "budgetline"


def resolve_database(settings: Settings) -> tuple[str, Callable[[], None] | None]:
    """DATABASE_URL, or the embedded PostgreSQL started in BUDGETLINE_DATA_DIR (and how to stop it)."""
    if settings.database_url:
        return settings.database_url, None
    server = embedded.start(settings.data_dir)
    url = with_database(server.url, EMBEDDED_DATABASE)
    asyncio.run(ensure_database(url))
    log.info("embedded PostgreSQL in %s (pid %s)", server.pgdata, server.pid)
    return url, server.stop


@contextmanager
def migrated_database(settings: Settings, *, upgrade: bool = True) -> Iterator[str]:
    """The database URL, migrated to head; an embedded server started for it stops on exit."""
    url, stop = resolve_database(settings)
    try:
        if upgrade:
            migrate.upgrade(url)
        yield url
    finally:
        if stop:
            stop()


def cmd_migrate(settings: Settings, _: argparse.Namespace) -> int:
    with migrated_database(settings):
        print(f"database at revision {migrate.head_revision()}")
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from budgetline.app import create_app

    url, stop = resolve_database(settings)
    try:
        migrate.upgrade(url)
        if args.demo:
            from budgetline import demo

            asyncio.run(demo.load(url, settings, host=args.host, port=args.port))
    except BaseException:
        if stop:
            stop()
        raise
    # log_config=None: uvicorn logs through the root logger, in the same format as ours.
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": settings.log_level.lower(),
        "access_log": False,
        "log_config": None,
    }
    if args.workers == 1:
        uvicorn.run(create_app(url, settings, on_shutdown=[stop] if stop else []), **options)
        return 0
    # Worker processes build their own app from the environment; this process owns the
    # embedded PostgreSQL (if any) and stops it after the workers have exited.
    os.environ["DATABASE_URL"] = url
    try:
        uvicorn.run("budgetline.app:app_from_env", factory=True, workers=args.workers, **options)
    finally:
        if stop:
            stop()
    return 0


def cmd_create_api_key(settings: Settings, args: argparse.Namespace) -> int:
    from budgetline.keys import create_api_key

    try:
        with migrated_database(settings) as url:
            secret = asyncio.run(create_api_key(url, name=args.name, role=args.role, account_id=args.account))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"created {args.role} key {args.name!r}; its secret (shown only now):")
    print(secret)
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from budgetline import demo

    with migrated_database(settings) as url:
        asyncio.run(demo.load(url, settings, host=settings.host, port=settings.port))
    return 0


def cmd_check_ledger(settings: Settings, _: argparse.Namespace) -> int:
    from db.queries import ledger_differences
    from db.session import create_engine

    async def check(url: str) -> tuple[int, list[Any]]:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            async with engine.connect() as conn:
                return await ledger_differences(conn)
        finally:
            await engine.dispose()

    with migrated_database(settings, upgrade=False) as url:  # a check changes nothing
        checked, differences = asyncio.run(check(url))
    for difference in differences:
        print(f"DIFFERENCE {difference}")
    print(f"checked {checked} budget sources: {len(differences)} differences")
    return 1 if differences else 0


def cmd_sweep(settings: Settings, _: argparse.Namespace) -> int:
    from budgetline import sweeper
    from db.session import create_engine

    async def sweep(url: str) -> dict[str, int] | None:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            return await sweeper.run_once(engine)
        finally:
            await engine.dispose()

    with migrated_database(settings) as url:
        done = asyncio.run(sweep(url))
    if done is None:
        print("another process is sweeping right now; nothing done")
        return 0
    print("swept: " + ", ".join(f"{name}={count}" for name, count in done.items()))
    return 0


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="budgetline",
        description="Budgetline GraphQL API. Without DATABASE_URL an embedded PostgreSQL is used "
        "(data in BUDGETLINE_DATA_DIR).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="migrate, then serve /graphql, /healthz and /readyz")
    serve.add_argument("--host", default=settings.host)
    serve.add_argument("--port", type=int, default=settings.port)
    serve.add_argument("--demo", action="store_true", help="load the demo data first (once) and print demo keys")
    serve.add_argument("--workers", type=int, default=settings.workers, help="server processes (default 1)")
    serve.set_defaults(handler=cmd_serve)

    mig = sub.add_parser("migrate", help="bring the database to the newest schema")
    mig.set_defaults(handler=cmd_migrate)

    key = sub.add_parser("create-api-key", help="create an API key and print its secret as the last line")
    key.add_argument("--role", required=True, choices=["VIEWER", "CAMPAIGN_MANAGER", "ACCOUNT_TEAM"])
    key.add_argument("--name", required=True)
    key.add_argument("--account", help="the account's global ID (required for VIEWER and CAMPAIGN_MANAGER)")
    key.set_defaults(handler=cmd_create_api_key)

    demo = sub.add_parser("demo", help="load the demo data (idempotent) and print demo keys")
    demo.set_defaults(handler=cmd_demo)

    ledger = sub.add_parser(
        "check-ledger",
        help="compare every source's allocated total with its ledger and its published campaigns, and its "
        "draft total with its drafts; exit 1 on any difference",
    )
    ledger.set_defaults(handler=cmd_check_ledger)

    sweep = sub.add_parser(
        "sweep",
        help="run the periodic jobs once (server processes run them every BUDGETLINE_SWEEP_INTERVAL_S): "
        "purge expired idempotency keys",
    )
    sweep.set_defaults(handler=cmd_sweep)
    return parser


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    args: Any = build_parser(settings).parse_args(argv)
    return int(args.handler(settings, args))


if __name__ == "__main__":
    sys.exit(main())
