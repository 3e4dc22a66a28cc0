"""The `countycare` command: one entry point over Django's management commands."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Django commands that operators need, beside CountyCare's own.
DJANGO_COMMANDS = {
    "migrate": "Create or upgrade the database tables",
    "runserver": "Serve the site for development (countycare demo serves the demo)",
    "createsuperuser": "Create a Django superuser interactively",
    "changepassword": "Change a user's password",
    "shell": "Python shell with the project loaded",
    "dbshell": "Open the database's own shell",
    "collectstatic": "Gather static files for a production web server",
}


def _apply_data_dir(argv: list[str]) -> None:
    """--data-dir must be known before settings load: it decides where the database and secret live."""
    for i, arg in enumerate(argv):
        if arg == "--data-dir" and i + 1 < len(argv):
            os.environ["COUNTYCARE_DATA_DIR"] = str(Path(argv[i + 1]).resolve())
        elif arg.startswith("--data-dir="):
            os.environ["COUNTYCARE_DATA_DIR"] = str(Path(arg.split("=", 1)[1]).resolve())


def _own_commands() -> dict[str, str]:
    from django.core.management import get_commands, load_command_class

    own = {}
    for name, app in sorted(get_commands().items()):
        if app.startswith("countycare."):
            command = load_command_class(app, name)
            own[name] = (command.help or "").strip().splitlines()[0] if command.help else ""
    return own


def print_help() -> None:
    own = _own_commands()
    width = max(len(n) for n in [*own, *DJANGO_COMMANDS])
    print("usage: countycare <command> [options]    (countycare <command> --help for its options)\n")
    print("CountyCare commands:")
    for name, purpose in own.items():
        print(f"  {name:<{width}}  {purpose}")
    print("\nDjango commands:")
    for name, purpose in DJANGO_COMMANDS.items():
        print(f"  {name:<{width}}  {purpose}")
    print("\nEnvironment: COUNTYCARE_DATABASE_URL (default SQLite in the data dir), COUNTYCARE_DATA_DIR,")
    print("COUNTYCARE_SECRET_KEY, COUNTYCARE_DEMO_PASSWORD. See README.md.")


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    _apply_data_dir(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "countycare.settings")
    import django

    django.setup()
    if len(argv) < 2 or argv[1] in {"-h", "--help", "help"}:
        print_help()
        return
    from django.core.management import execute_from_command_line
    from django.db import DatabaseError, connection
    from django.db.migrations.executor import MigrationExecutor

    try:
        execute_from_command_line(["countycare", *argv[1:]])
    except DatabaseError as exc:
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            sys.exit(f"数据库尚未初始化或需要升级 (the database has unapplied migrations): run `countycare migrate` "
                     f"or `countycare demo` first. ({exc})")
        raise


if __name__ == "__main__":
    main()
