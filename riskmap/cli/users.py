"""``riskmap users``: accounts of the web app (kept in the store) and their roles and scope."""

from __future__ import annotations

import sys

import click

from riskmap.cli.common import echo_json, fail_cleanly, open_from, settings_from, store_option

__all__ = ["COMMANDS", "users"]


def _password(value: str | None, prompt: bool) -> str:
    if value:
        raise click.UsageError("passwords are never given on the command line (they land in "
                               "the shell history): type it at the prompt, or pipe it in with "
                               "--password-stdin")
    if prompt:
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


def _scope_options(func):
    func = click.option("--region", "regions", multiple=True,
                        help="A region of the user's scope (repeatable).")(func)
    func = click.option("--district", "districts", multiple=True,
                        help="A district of the scope, within its region (repeatable).")(func)
    func = click.option("--all-regions", is_flag=True,
                        help="Scope: every region (required to give a non-admin no region).")(
                            func)
    func = click.option("--suppressed-elsewhere", is_flag=True,
                        help="Outside the scope, see suppressed figures (counts below 5 as "
                             "\"< 5\", points at coarse H3 cell centres, months, no incident "
                             "rows) instead of nothing.")(func)
    return func


def _checked_scope(role: str, regions: tuple[str, ...], all_regions: bool,
                   suppressed_elsewhere: bool = False) -> None:
    if regions and all_regions:
        raise click.UsageError("--all-regions and --region exclude each other")
    if suppressed_elsewhere and not regions:
        raise click.UsageError("--suppressed-elsewhere needs a scope (--region): with every "
                               "region there is no elsewhere")
    if role != "admin" and not regions and not all_regions:
        raise click.UsageError(f"a {role} needs a scope: --region NAME (repeatable), or "
                               "--all-regions")


@click.group()
def users() -> None:
    """Accounts of the web app: add, change password or role, disable, list.

    Users and their Argon2id password hashes live in the store (PostGIS in production), so
    every app worker sees them. Roles: admin, commander, planner, tourism_safety, analyst;
    each user has a scope of regions (and districts) outside which they see nothing.
    Every change is written to the audit log.
    """


@users.command("add")
@click.argument("username")
@click.option("--role", required=True,
              type=click.Choice(["admin", "commander", "planner", "tourism_safety", "analyst"]))
@_scope_options
@click.option("--name", "display_name", default=None, help="Full name shown in the app.")
@click.option("--password", "password_arg", default=None, hidden=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@store_option
@fail_cleanly
def users_add(username: str, role: str, regions: tuple[str, ...], districts: tuple[str, ...],
              all_regions: bool, suppressed_elsewhere: bool, display_name: str | None,
              password_arg: str | None, password_stdin: bool, store_url: str | None) -> None:
    """Add a user with a password (asked for; at least 12 characters)."""
    from riskmap.auth.accounts import add_user

    _checked_scope(role, regions, all_regions, suppressed_elsewhere)
    password = _password(password_arg, not password_stdin)
    settings = settings_from(store_url)
    with open_from(settings) as store:
        row = add_user(store, username, password, role=role, regions=regions,
                       districts=districts, suppressed_elsewhere=suppressed_elsewhere,
                       display_name=display_name, actor=settings.user)
    click.echo(f"added {row['username']} ({role}; {', '.join(regions) or 'all regions'}"
               f"{'; suppressed elsewhere' if suppressed_elsewhere else ''})")


@users.command("passwd")
@click.argument("username")
@click.option("--password", "password_arg", default=None, hidden=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@store_option
@fail_cleanly
def users_passwd(username: str, password_arg: str | None, password_stdin: bool,
                 store_url: str | None) -> None:
    """Set a user's password (their sessions end)."""
    from riskmap.auth.accounts import set_password

    password = _password(password_arg, not password_stdin)
    settings = settings_from(store_url)
    with open_from(settings) as store:
        set_password(store, username, password, actor=settings.user)
    click.echo(f"password of {username} changed")


@users.command("roles")
@click.argument("username")
@click.option("--role", required=True,
              type=click.Choice(["admin", "commander", "planner", "tourism_safety", "analyst"]))
@_scope_options
@store_option
@fail_cleanly
def users_roles(username: str, role: str, regions: tuple[str, ...], districts: tuple[str, ...],
                all_regions: bool, suppressed_elsewhere: bool, store_url: str | None) -> None:
    """Change a user's role and scope (their sessions end).

    The role, scope and ``--suppressed-elsewhere`` are set together: leaving the flag out
    turns the suppressed view of the other regions off.
    """
    from riskmap.auth.accounts import set_role

    _checked_scope(role, regions, all_regions, suppressed_elsewhere)
    settings = settings_from(store_url)
    with open_from(settings) as store:
        set_role(store, username, role=role, regions=regions, districts=districts,
                 suppressed_elsewhere=suppressed_elsewhere, actor=settings.user)
    click.echo(f"{username} is now {role} ({', '.join(regions) or 'all regions'}"
               f"{'; suppressed elsewhere' if suppressed_elsewhere else ''})")


@users.command("disable")
@click.argument("username")
@store_option
@fail_cleanly
def users_disable(username: str, store_url: str | None) -> None:
    """Stop a user from logging in (their sessions end)."""
    from riskmap.auth.accounts import disable_user

    settings = settings_from(store_url)
    with open_from(settings) as store:
        disable_user(store, username, actor=settings.user)
    click.echo(f"{username} disabled")


@users.command("enable")
@click.argument("username")
@store_option
@fail_cleanly
def users_enable(username: str, store_url: str | None) -> None:
    """Let a disabled or locked-out user log in again."""
    from riskmap.auth.accounts import enable_user

    settings = settings_from(store_url)
    with open_from(settings) as store:
        enable_user(store, username, actor=settings.user)
    click.echo(f"{username} enabled")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_option
@fail_cleanly
def users_list(as_json: bool, store_url: str | None) -> None:
    """List the users, their roles and scopes (never their passwords)."""
    from riskmap.auth.accounts import list_users

    settings = settings_from(store_url)
    with open_from(settings) as store:
        table = list_users(store)
    if as_json:
        echo_json(table.to_dict(orient="records"))
        return
    for row in table.to_dict(orient="records"):
        state = "disabled" if row["disabled"] else "active"
        click.echo(f"{row['username']:<20} {row['role']:<15} {state:<9} {row['source']:<6} "
                   f"{row['regions'] if row['regions'] != '[]' else 'all regions'}"
                   f"{' +suppressed elsewhere' if row.get('suppressed_elsewhere') else ''}")


COMMANDS = [users]
