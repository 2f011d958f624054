"""`budgetline serve | migrate | create-api-key | demo | check-ledger | sweep`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import errno
import importlib.metadata
import json
import logging
import os
import socket
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from budgetline.observability import configure_logging
from budgetline.settings import Settings, get_settings
from db import embedded, migrate
from db.session import ensure_database, with_database
from resolvers.context import ROLES

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


def direct_url(settings: Settings, url: str) -> str:
    """For what needs a session of its own (migrations, one-shot commands): never the pooler."""
    return settings.database_direct_url or url


@contextmanager
def migrated_database(settings: Settings, *, upgrade: bool = True) -> Iterator[str]:
    """The direct database URL, migrated to head; an embedded server started for it stops on exit."""
    url, stop = resolve_database(settings)
    direct = direct_url(settings, url)
    try:
        if upgrade:
            migrate.upgrade(direct)
        yield direct
    finally:
        if stop:
            stop()


def cmd_migrate(settings: Settings, _: argparse.Namespace) -> int:
    with migrated_database(settings):
        print(f"database at revision {migrate.head_revision()}")
    return 0


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything else starts, so a busy port fails at once."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror})"
        raise CommandError(
            f"port {port} on {host} {reason}: stop what listens there, or choose another port with "
            f"--port {port + 1} (or BUDGETLINE_PORT={port + 1} make run)"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from budgetline.app import create_app

    sock = bind(args.host, args.port)
    url, stop = resolve_database(settings)
    try:
        migrate.upgrade(direct_url(settings, url))
        loaded = None
        if args.demo:
            from budgetline import demo

            loaded = asyncio.run(demo.load(direct_url(settings, url), settings))
    except BaseException:
        if stop:
            stop()
        raise
    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    base_url = f"http://{shown_host}:{args.port}/graphql"
    if loaded is not None:
        from budgetline import demo

        print(demo.welcome(loaded, base_url), flush=True)
    else:
        print(f"Budgetline is ready: {base_url}", flush=True)
    # log_config=None: uvicorn logs through the root logger, in the same format as ours. The
    # socket is already bound and listening: connections wait in its backlog until the app runs.
    from budgetline.http import BoundedHttpToolsProtocol

    options: dict[str, Any] = {
        "log_level": settings.log_level.lower(),
        "access_log": False,
        "log_config": None,
        "http": BoundedHttpToolsProtocol,  # a request's head is bounded in size and time
        # Subscriptions (R17): the websockets library's sans-I/O implementation; a message is
        # bounded like a request body.
        "ws": "websockets-sansio",
        "ws_max_size": settings.max_body_bytes,
    }
    demo_keys = loaded.graphiql_keys() if loaded is not None else []
    if args.workers == 1:
        app = create_app(url, settings, on_shutdown=[stop] if stop else [], demo_keys=demo_keys)
        # uvicorn shuts down gracefully on Ctrl-C, then raises it again: that is a clean exit here.
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.Server(uvicorn.Config(app, **options)).run(sockets=[sock])
        return 0
    from uvicorn.supervisors import Multiprocess

    # Worker processes build their own app from the environment; this process owns the
    # embedded PostgreSQL (if any) and stops it after the workers have exited.
    os.environ["DATABASE_URL"] = url
    if demo_keys:
        from budgetline.app import DEMO_KEYS_ENV

        os.environ[DEMO_KEYS_ENV] = json.dumps([dataclasses.asdict(k) for k in demo_keys])
    config = uvicorn.Config("budgetline.app:app_from_env", factory=True, workers=args.workers, **options)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            Multiprocess(config, sockets=[sock]).run()
    finally:
        if stop:
            stop()
    return 0


def cmd_create_api_key(settings: Settings, args: argparse.Namespace) -> int:
    from budgetline.keys import issue_api_key

    try:
        with migrated_database(settings) as url:
            key_id, secret = asyncio.run(issue_api_key(url, name=args.name, role=args.role, account_id=args.account))
    except ValueError as exc:
        # The resolvers name the GraphQL field (accountId); here it is the --account flag.
        raise CommandError(str(exc).replace("accountId", "--account")) from None
    print(
        f"created {args.role} key {args.name!r} with ID {key_id} (revoke it with: budgetline revoke-api-key {key_id})"
    )
    print("its secret, shown only now:")
    print(secret)
    return 0


def cmd_list_api_keys(settings: Settings, _: argparse.Namespace) -> int:
    from budgetline.keys import list_api_keys

    with migrated_database(settings, upgrade=False) as url:
        keys = asyncio.run(list_api_keys(url))
    rows = [("ID", "NAME", "ROLE", "ACCOUNT", "CREATED", "REVOKED")]
    for key in keys:
        revoked = key.revoked_at.strftime("%Y-%m-%d %H:%M UTC") if key.revoked_at else "-"
        created = key.created_at.strftime("%Y-%m-%d %H:%M UTC")
        rows.append((key.id, key.name, key.role, key.account, created, revoked))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def cmd_revoke_api_key(settings: Settings, args: argparse.Namespace) -> int:
    from budgetline.keys import revoke_api_key

    try:
        with migrated_database(settings, upgrade=False) as url:
            revoked_at = asyncio.run(revoke_api_key(url, args.key_id))
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    print(f"key {args.key_id} is revoked since {revoked_at:%Y-%m-%d %H:%M:%S} UTC: every server refuses it now")
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from budgetline import demo

    with migrated_database(settings) as url:
        loaded = asyncio.run(demo.load(url, settings))
    print(demo.describe(loaded))
    return 0


def cmd_check_ledger(settings: Settings, _: argparse.Namespace) -> int:
    from db.queries import ledger_differences
    from db.session import create_engine

    async def check(url: str) -> tuple[int, int, list[Any]]:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            async with engine.connect() as conn:
                return await ledger_differences(conn)
        finally:
            await engine.dispose()

    with migrated_database(settings, upgrade=False) as url:  # a check changes nothing
        sources, campaigns, differences = asyncio.run(check(url))
    for difference in differences:
        print(f"DIFFERENCE {difference}")
    print(f"checked {sources} budget sources and {campaigns} campaigns: {len(differences)} differences")
    return 1 if differences else 0


def cmd_sweep(settings: Settings, _: argparse.Namespace) -> int:
    from budgetline import sweeper
    from db.session import create_engine

    async def sweep(url: str) -> dict[str, int] | None:
        engine = create_engine(url, pool_size=2, max_overflow=0)  # the pass's guard, and its work
        try:
            return await sweeper.run_once(engine, settings.settlement_days, wait=True)
        finally:
            await engine.dispose()

    with migrated_database(settings) as url:
        done = asyncio.run(sweep(url))
    assert done is not None  # waited for any other pass to end
    print("swept: " + ", ".join(f"{name}={count}" for name, count in done.items()))
    return 0


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="budgetline",
        description="Budgetline: a GraphQL API that ties advertising campaigns to the orders and purchase "
        "orders that pay for them. Every command uses DATABASE_URL; without it, an embedded PostgreSQL "
        "keeps its data in BUDGETLINE_DATA_DIR (default ./.budgetline).",
        epilog="Settings are environment variables: see docs/configuration.md.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="migrate, then serve the API",
        description="Migrate the database, then serve /graphql (GraphiQL for browsers), /healthz and /readyz "
        "(and /metrics with BUDGETLINE_METRICS_TOKEN).",
    )
    serve.add_argument(
        "--host", default=settings.host, help=f"address to listen on (BUDGETLINE_HOST; default {settings.host})"
    )
    serve.add_argument(
        "--port", type=int, default=settings.port, help=f"port to listen on (BUDGETLINE_PORT; default {settings.port})"
    )
    serve.add_argument(
        "--demo", action="store_true", help="load the demo data first (once) and print its accounts and keys"
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=settings.workers,
        help=f"server processes (BUDGETLINE_WORKERS; default {settings.workers})",
    )
    serve.set_defaults(handler=cmd_serve)

    mig = sub.add_parser(
        "migrate",
        help="bring the database to the newest schema",
        description="Bring the database to the newest schema (Alembic upgrade head). serve does it too.",
    )
    mig.set_defaults(handler=cmd_migrate)

    key = sub.add_parser(
        "create-api-key",
        help="create an API key and print its secret as the last line",
        description="Create an API key and print its secret as the last line: the way to bootstrap an "
        "installation with an ACCOUNT_TEAM key. Only the secret's SHA-256 is stored.",
    )
    key.add_argument("--role", required=True, choices=list(ROLES), help="what the key may do")
    key.add_argument("--name", required=True, help="who or what holds the key (shown in logs and the ledger)")
    key.add_argument(
        "--account",
        metavar="ACCOUNT_ID",
        help="the account's global ID, required for VIEWER and CAMPAIGN_MANAGER keys (find it with "
        "`{ accounts { id name } }` as the account team, or in `budgetline demo`'s output)",
    )
    key.set_defaults(handler=cmd_create_api_key)

    listing = sub.add_parser(
        "list-api-keys",
        help="list the API keys: ID, name, role, account, created, revoked (never a secret)",
        description="List every API key, oldest first: its ID (for revoke-api-key), name, role, account, "
        "when it was created and revoked. Secrets are never stored, only their SHA-256.",
    )
    listing.set_defaults(handler=cmd_list_api_keys)

    revoke = sub.add_parser(
        "revoke-api-key",
        help="revoke an API key by its ID (every server refuses it at once)",
        description="Revoke an API key by its ID (from list-api-keys or create-api-key's output): every server "
        "process refuses it from then on and closes its subscriptions. Revoking it again changes nothing. To "
        "rotate a key: create the new one, move its holder to it, then revoke the old one.",
    )
    revoke.add_argument("key_id", metavar="ID", help="the key's ID, e.g. QXBpS2V5Ojg")
    revoke.set_defaults(handler=cmd_revoke_api_key)

    demo = sub.add_parser(
        "demo",
        help="load the demo data (once) and print its accounts and keys",
        description="Load the demo data (once: running it again changes nothing) and print the demo "
        "accounts with their IDs and audiences, and a key per role.",
    )
    demo.set_defaults(handler=cmd_demo)

    ledger = sub.add_parser(
        "check-ledger",
        help="check every kept total against the ledgers; exit 1 on any difference",
        description="Recompute every kept figure from the allocation and spend ledgers and the campaigns: each "
        "source's allocated, draft, spent and pending-release totals, each campaign's spend, daily records, "
        "release and allocation entries. Print the differences and exit 1 on any. Changes nothing.",
    )
    ledger.set_defaults(handler=cmd_check_ledger)

    sweep = sub.add_parser(
        "sweep",
        help="run the periodic jobs once (for cron)",
        description="Run the periodic jobs once: purge idempotency keys past 24 hours, end campaigns past "
        "their end date (R13), settle campaigns ended BUDGETLINE_SETTLEMENT_DAYS (default 3) days ago (R14). "
        "Server processes run them every BUDGETLINE_SWEEP_SECONDS (default 60) seconds, one process at a "
        "time; this command waits for a pass in progress to end, then runs its own.",
    )
    sweep.set_defaults(handler=cmd_sweep)
    return parser


class CommandError(Exception):
    """A mistake the user can fix: printed as `error: ...`, exit status 2, no traceback."""


def version() -> str:
    try:
        return importlib.metadata.version("budgetline")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def quiet_third_parties() -> None:
    """Ordinary commands print only their own lines: no migration chatter, no platformdirs
    warning about XDG_RUNTIME_DIR (raised by the embedded PostgreSQL's package)."""
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    logging.getLogger("alembic").setLevel(logging.WARNING)


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> Any:
    """The arguments; an unknown flag of a command is reported with that command's own usage."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        commands.choices[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    parser = build_parser(settings)
    parser.add_argument("--debug", action="store_true", help="show the traceback of a failure")
    args: Any = parse(parser, argv)
    # A server logs what it does; a one-off command prints its result and logs only problems.
    level = settings.log_level if args.command == "serve" or settings.log_level == "DEBUG" else "WARNING"
    configure_logging(level, settings.log_format)
    quiet_third_parties()
    try:
        return int(args.handler(settings, args))
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        problem = database_problem(exc, settings)
        if problem is None or args.debug:
            raise
        print(f"error: {problem}", file=sys.stderr)
        print("(run with --debug for the details)", file=sys.stderr)
        return 1


def database_problem(exc: BaseException, settings: Settings) -> str | None:
    """A failure to reach or use the database, said in a line naming where and what to check;
    None for anything else (a bug: its traceback is shown)."""
    import asyncpg
    from sqlalchemy.exc import SQLAlchemyError

    where = describe_database(settings)
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and cause not in chain and len(chain) < 10:
        chain.append(cause)
        cause = getattr(cause, "orig", None) or cause.__cause__ or cause.__context__
    for found in chain:
        if isinstance(found, asyncpg.InvalidCatalogNameError):
            return f"the database {where} does not exist: create it (createdb), or fix DATABASE_URL"
        if isinstance(found, (asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidPasswordError)):
            return f"PostgreSQL at {where} refused the login ({found}): check the user and password in DATABASE_URL"
        if isinstance(found, (ConnectionRefusedError, TimeoutError, asyncpg.CannotConnectNowError)) or (
            isinstance(found, OSError) and not isinstance(found, FileNotFoundError)
        ):
            reason = str(found) or type(found).__name__
            return f"cannot reach PostgreSQL at {where} ({reason}): is it running, and are the host and port right?"
        if isinstance(found, ValueError) and "DATABASE_URL" in str(found):
            return str(found)
    for found in chain:
        if isinstance(found, (asyncpg.PostgresError, SQLAlchemyError)):
            first = str(found).splitlines()[0] if str(found) else type(found).__name__
            return f"PostgreSQL at {where} refused the command: {first}"
    return None


def describe_database(settings: Settings) -> str:
    """host:port/database of DATABASE_URL (never its password), or the embedded server's place."""
    from urllib.parse import urlsplit

    if not settings.database_url:
        return f"(embedded, in {settings.data_dir})"
    parts = urlsplit(settings.database_url)
    database = parts.path.lstrip("/") or "postgres"
    hosts = parts.netloc.rpartition("@")[2] or "localhost"  # several hosts: as written (no password)
    return f"{hosts}/{database}" if ":" in hosts or "," in hosts else f"{hosts}:5432/{database}"


if __name__ == "__main__":
    sys.exit(main())
