"""The cloud commands: `auth status|login|logout`, `credits`, `state [SESSION]` (the nemo engine's account and sessions).

Commands only: they parse arguments, call engines/nemo, and print. No token
or client id is ever printed, not even in part; `--json` everywhere.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from .common import app, fail

ApiUrlOption = typer.Option(None, "--api-url", metavar="URL", help="The NemoVideo API address (default: NEMO_API_URL, "
                            "`[nemo] api_url` in the config file, else the public service).")
JsonOption = typer.Option(False, "--json", help="Print JSON.")

auth_app = typer.Typer(name="auth", help="Sign in to the NemoVideo service, or see how nemoflow is signed in.",
                       no_args_is_help=True, rich_markup_mode=None)


def _settings(api_url: Optional[str]):
    from ..engines.nemo.settings import NemoSettings
    from ..errors import NemoflowError

    try:
        return NemoSettings.load(api_url)
    except NemoflowError as err:
        fail(str(err), err.exit_code)


def _print(data, as_json: bool, lines: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        for line in lines:
            typer.echo(line)


def _when(epoch) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch)) if isinstance(epoch, (int, float)) else "?"


@auth_app.command("status")
def auth_status(api_url: Optional[str] = ApiUrlOption, as_json: bool = JsonOption) -> None:
    """Which token nemoflow would use for the service (never the token itself), and where credentials are kept."""
    from ..engines.nemo.credentials import CredentialStore
    from ..errors import NemoflowError

    settings = _settings(api_url)
    store = CredentialStore()
    try:
        stored = store.describe(settings.api_url)
    except NemoflowError as err:
        fail(str(err), err.exit_code)
    tokens = stored["tokens"]
    if os.environ.get("NEMO_TOKEN", "").strip():
        using = "env"
        line = "using the token in NEMO_TOKEN"
    elif "user" in tokens:
        using = "user"
        line = f"using your token, stored by `nemoflow auth login` on {_when(tokens['user'].get('saved_at'))}"
    elif "anonymous" in tokens and tokens["anonymous"].get("expires_at", 0) > time.time():
        using = "anonymous"
        line = f"using an anonymous token (100 free credits), valid until {_when(tokens['anonymous'].get('expires_at'))}"
    else:
        using = None
        line = "not signed in: the first cloud run gets an anonymous token (100 free credits, 7 days); `nemoflow auth login` " \
               "stores your own"
    mode = _mode(store.path)
    data = {"api_url": settings.api_url, "using": using, "stored": sorted(tokens), "client_id": stored["client_id"],
            "file": stored["file"], "file_mode": mode}
    lines = [f"{settings.api_url}: {line}", f"credentials: {store.path}" + (f" (mode {mode})" if mode else " (none yet)")]
    if mode and mode != "0600":
        lines.append(f"warning: {store.path} is readable by others (mode {mode}); run: chmod 600 {store.path}")
    _print(data, as_json, lines)


def _mode(path: Path) -> str | None:
    try:
        return f"{stat.S_IMODE(path.stat().st_mode):04o}"
    except OSError:
        return None


@auth_app.command("login")
def auth_login(
    token_stdin: bool = typer.Option(False, "--token-stdin", help="Read the token from standard input (for CI), not a prompt."),
    anonymous: bool = typer.Option(False, "--anonymous", help="Get an anonymous token now instead (100 credits, 7 days)."),
    api_url: Optional[str] = ApiUrlOption,
    as_json: bool = JsonOption,
) -> None:
    """Store your NemoVideo token (checked with the service first), readable by you only."""
    from ..engines.nemo.client import NemoClient
    from ..engines.nemo.credentials import CredentialStore, Token, remember_secret
    from ..errors import NemoflowError

    settings = _settings(api_url)
    store = CredentialStore()
    if anonymous:
        store.drop(settings.api_url, ("anonymous",))
        try:
            with NemoClient(settings, store) as client:
                client.sign_in_anonymously()
                balance = client.credits()
        except NemoflowError as err:
            fail(str(err), err.exit_code)
        _print({"api_url": settings.api_url, "kind": "anonymous", "credits": balance}, as_json,
               [f"signed in anonymously to {settings.api_url}: {balance.get('available')} credits available"])
        return
    if token_stdin or not sys.stdin.isatty():
        value = sys.stdin.readline().strip()
    else:
        value = typer.prompt("NemoVideo token (input hidden)", hide_input=True).strip()
    if not value or any(c.isspace() for c in value):
        fail("no token given (or it contains spaces); paste the token from your NemoVideo account")
    remember_secret(value)
    try:
        with NemoClient(settings, store, token=Token(value, "user")) as client:
            balance = client.credits()
    except NemoflowError as err:
        fail(f"the token was not stored: {err}", err.exit_code)
    store.put_token(settings.api_url, "user", value)
    _print({"api_url": settings.api_url, "kind": "user", "credits": balance, "file": str(store.path)}, as_json,
           [f"signed in to {settings.api_url}: {balance.get('available')} credits available; token stored in {store.path} "
            "(mode 0600)"])


@auth_app.command("logout")
def auth_logout(
    all_: bool = typer.Option(False, "--all", help="Forget every stored token for every API address, and this client's id."),
    api_url: Optional[str] = ApiUrlOption,
    as_json: bool = JsonOption,
) -> None:
    """Forget stored tokens (NEMO_TOKEN, if set, is yours to unset)."""
    from ..engines.nemo.credentials import CredentialStore
    from ..errors import NemoflowError

    settings = _settings(api_url)
    try:
        removed = CredentialStore().drop(None if all_ else settings.api_url, client_id=all_)
    except NemoflowError as err:
        fail(str(err), err.exit_code)
    lines = [f"removed {', '.join(removed)}" if removed else "nothing stored to remove"]
    if any(r.startswith("anonymous") for r in removed):
        lines.append("note: the service issues one anonymous token per client every 7 days; a new one may be refused until then")
    if os.environ.get("NEMO_TOKEN"):
        lines.append("note: NEMO_TOKEN is still set in this environment, and is used while it is")
    _print({"removed": removed}, as_json, lines)


def credits(api_url: Optional[str] = ApiUrlOption, as_json: bool = JsonOption) -> None:
    """Show the NemoVideo credit balance: available, frozen (held by renders in progress), total."""
    from ..engines.nemo.client import NemoClient
    from ..errors import NemoflowError

    try:
        with NemoClient(_settings(api_url)) as client:
            balance = client.credits()
    except NemoflowError as err:
        fail(str(err), err.exit_code)
    fields = balance if isinstance(balance, dict) else {}
    known = [f"{fields[k]:g} {k}" for k in ("available", "frozen", "total")
             if isinstance(fields.get(k), (int, float)) and not isinstance(fields.get(k), bool)]
    lines = ["credits: " + (", ".join(known) if known else "the service's answer gives no available, frozen or total")]
    others = sorted(k for k in fields if k not in ("available", "frozen", "total"))
    if others:
        lines.append("other fields: " + ", ".join(others))
    _print(fields, as_json, lines)


def state(
    session: Optional[str] = typer.Argument(None, help="Session id (default: the last one a cloud run used)."),
    api_url: Optional[str] = ApiUrlOption,
    as_json: bool = JsonOption,
) -> None:
    """Show a cloud session's timeline, summarised track by track (the Draft with --json)."""
    from ..engines.nemo.client import NemoClient
    from ..engines.nemo.credentials import credentials_path
    from ..engines.nemo.drafts import names_from_state, read_state_draft, summary
    from ..errors import NemoflowError

    settings = _settings(api_url)
    if session is None:
        try:
            last = json.loads((credentials_path().parent / "last-session.json").read_text())
        except (OSError, ValueError):
            last = {}
        last = last if isinstance(last, dict) else {}
        if last.get("api") != settings.api_url or not isinstance(last.get("session"), str) or not last["session"]:
            fail(f"no session given and no cloud run has used {settings.api_url} from this account yet; "
                  "pass a session id (`nemoflow state SESSION`; a run with --engine nemo prints the ids it opens)")
        session = str(last["session"])
    try:
        with NemoClient(settings) as client:
            raw = client.state(session)
        raw = raw if isinstance(raw, dict) else {}
        draft = read_state_draft(raw, f"read from session {session}")
    except NemoflowError as err:
        fail(str(err), err.exit_code)
    media = raw.get("video_infos") if isinstance(raw.get("video_infos"), list) else []
    said = summary(draft, names_from_state(raw))
    others = draft.other_fields()
    lines = [f"session {session}: {said}", f"{len(media)} uploaded media"]
    if others:
        lines.append("other fields: " + ", ".join(others))
    _print({"session": session, "summary": said, "draft": draft.to_json(), "media": len(media), "other_fields": others}, as_json,
           lines)


app.add_typer(auth_app, name="auth")
app.command("credits")(credits)
app.command("state")(state)
