"""The local sign-in: the demo people and the realm file of the local OIDC provider
(docs/portal.md, "Signing in locally").

``python -m demo.people init ENV_FILE REALM_FILE`` keeps in the env file (``.env``)
what the portal and the services need to sign people in locally, creating what
is missing (never changing what is there):

- ``OIDC_ISSUER``: the local provider (``deploy/local/oidc``);
- ``PORTAL_URL`` and ``PORTAL_SESSION_SECRET``;
- ``SMTP_URL`` and ``MAIL_INBOX_URL``: the local mail server (Mailpit,
  ``deploy/local/infra.sh``) and its web inbox, where the mail sent to people
  arrives (docs/operations.md, "Email locally: Mailpit");
- ``NOTIFICATIONS_SECRET`` (random) and ``NOTIFY_MANAGER_EMAILS`` (the demo
  channel manager's address): notifications' unsubscribe links and the channel
  managers' email (docs/rules/notifications.md);
- ``PARTNERHUB_DEMO_MANAGER``, ``PARTNERHUB_DEMO_PARTNER_A``,
  ``PARTNERHUB_DEMO_PARTNER_B``: ``<username>:<password>``, random passwords.

It then writes the realm file the provider reads at every sign-in: the portal's
client and the three people, the partner users bound to
``PARTNERHUB_DEMO_PARTNER_A_ID`` / ``_B_ID`` once the demo has made those
partners (before, they sign in to a partner that does not exist yet).
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx

ISSUER = "http://127.0.0.1:5556"
PORTAL_URL = "http://127.0.0.1:8000"
SMTP_URL = "smtp://127.0.0.1:1025"
MAIL_INBOX_URL = "http://127.0.0.1:8025/"
CLIENT_ID = "partnerhub-portal"

#: ``(variable, username, display name, role, variable of the partner id)``
DEMO_PEOPLE = (
    (
        "PARTNERHUB_DEMO_MANAGER",
        "manager",
        "Morgan Channel (channel manager)",
        "channel_manager",
        None,
    ),
    (
        "PARTNERHUB_DEMO_PARTNER_A",
        "partner-a",
        "Alex Partner (demo partner A)",
        "partner",
        "PARTNERHUB_DEMO_PARTNER_A_ID",
    ),
    (
        "PARTNERHUB_DEMO_PARTNER_B",
        "partner-b",
        "Blake Partner (demo partner B)",
        "partner",
        "PARTNERHUB_DEMO_PARTNER_B_ID",
    ),
)


def email(username: str) -> str:
    """A demo person's address (the provider's realm gives it; Mailpit receives it)."""
    return f"{username}@partnerhub.invalid"


@dataclass(frozen=True, slots=True)
class Person:
    username: str
    password: str
    name: str
    role: str
    partner_id: str

    def entry(self) -> dict[str, str]:
        return {
            "username": self.username,
            "password": self.password,
            "name": self.name,
            "email": email(self.username),
            "role": self.role,
            "partner_id": self.partner_id,
        }


def read_env(path: Path) -> dict[str, str]:
    """``NAME=value`` lines; the first value of a name wins, as the shell scripts read it."""
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and name.strip() and name.strip() not in values:
                values[name.strip()] = value.strip()
    return values


def set_env(path: Path, updates: dict[str, str]) -> None:
    """Set ``updates`` in the env file (replacing a name's line, else appending); mode 0600."""
    lines = path.read_text().splitlines() if path.exists() else []
    pending = dict(updates)
    for index, line in enumerate(lines):
        name = line.partition("=")[0].strip()
        if name in pending:
            lines[index] = f"{name}={pending.pop(name)}"
    lines.extend(f"{name}={value}" for name, value in pending.items())
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def ensure_env(path: Path) -> dict[str, str]:
    """Add what local sign-in and mail need to the env file; what is there stays."""
    values = read_env(path)
    missing = {
        "OIDC_ISSUER": ISSUER,
        "PORTAL_URL": PORTAL_URL,
        "PORTAL_SESSION_SECRET": secrets.token_urlsafe(32),
        "SMTP_URL": SMTP_URL,
        "MAIL_INBOX_URL": MAIL_INBOX_URL,
        "NOTIFICATIONS_SECRET": secrets.token_urlsafe(32),
        "NOTIFY_MANAGER_EMAILS": ",".join(
            email(username) for _, username, _, role, _ in DEMO_PEOPLE if role == "channel_manager"
        ),
        **{
            variable: f"{username}:{secrets.token_urlsafe(12)}"
            for variable, username, *_ in DEMO_PEOPLE
        },
    }
    added = {name: value for name, value in missing.items() if not values.get(name)}
    if added:
        set_env(path, added)
    return read_env(path)


def demo_people(values: dict[str, str]) -> list[Person]:
    people = []
    for variable, _, name, role, partner_variable in DEMO_PEOPLE:
        username, _, password = values[variable].partition(":")
        partner_id = values.get(partner_variable, "") if partner_variable else ""
        people.append(Person(username, password, name, role, partner_id))
    return people


def write_realm(path: Path, people: list[Person], portal_url: str = PORTAL_URL) -> None:
    """The provider's realm: the portal as a public client (PKCE), and ``people``.
    Written whole and renamed into place, so the provider never reads half of it."""
    realm = {
        "clients": [
            {
                "id": CLIENT_ID,
                "secret": "",
                "redirect_uris": [f"{portal_url}/auth/callback"],
                "post_logout_redirect_uris": [f"{portal_url}/"],
            }
        ],
        "people": [person.entry() for person in people],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.{os.getpid()}")
    staged.write_text(json.dumps(realm, indent=2) + "\n")
    staged.chmod(0o600)
    staged.replace(path)


def sign_in_lines(values: dict[str, str]) -> list[str]:
    """How to sign in, for people: the portal and each demo person."""
    lines = [f"portal: {values.get('PORTAL_URL', PORTAL_URL)}"]
    for variable, _, name, _, partner_variable in DEMO_PEOPLE:
        username, _, password = values.get(variable, "").partition(":")
        partner = (
            f" for partner {values[partner_variable]}"
            if partner_variable and values.get(partner_variable)
            else ""
        )
        lines.append(f"  {name}{partner}: username {username}, password {password}")
    return lines


class SignInRefused(Exception):
    """The provider did not sign the person in; the message says where it stopped."""


_FORM = re.compile(r'<form[^>]*method="post"[^>]*action="([^"]+)"', re.IGNORECASE)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', re.IGNORECASE)


async def sign_in(client: httpx.AsyncClient, portal_url: str, username: str, password: str) -> str:
    """Sign in to the portal as a person does, through the provider's own form, with a
    client that follows redirects and keeps cookies; the page it lands on (the person's
    home). For the demo's self-check and the benchmarks; people use a browser."""
    form_page = await client.get(f"{portal_url}/login?next=/")
    action = _FORM.search(form_page.text)
    if form_page.status_code != 200 or action is None:
        raise SignInRefused(f"no sign-in form at {form_page.url} ({form_page.status_code})")
    fields = {name: html.unescape(value) for name, value in _HIDDEN.findall(form_page.text)}
    target = form_page.url.join(html.unescape(action.group(1)))
    landed = await client.post(target, data={**fields, "username": username, "password": password})
    if not str(landed.url).startswith(portal_url) or landed.status_code != 200:
        raise SignInRefused(f"{username} was not signed in: {landed.status_code} at {landed.url}")
    return landed.text


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "init":
        print("usage: python -m demo.people init ENV_FILE REALM_FILE", file=sys.stderr)
        return 2
    env_path, realm_path = Path(argv[1]), Path(argv[2])
    values = ensure_env(env_path)
    write_realm(realm_path, demo_people(values), values.get("PORTAL_URL", PORTAL_URL))
    print(
        f"people's sign-in kept in {env_path.resolve()} (PARTNERHUB_DEMO_*); "
        f"the local OIDC provider's realm: {realm_path}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
