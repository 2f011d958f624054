"""GraphiQL served with its assets from this server instead of a CDN (see static/graphiql/README.md)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

ASSETS_DIR = Path(__file__).parent / "static" / "graphiql"
ASSETS_PATH = "/graphiql-assets"

# Strawberry's CDN address of each file -> our file name.
CDN_FILES = {
    "https://unpkg.com/react@18.2.0/umd/react.production.min.js": "react.production.min.js",
    "https://unpkg.com/react-dom@18.2.0/umd/react-dom.production.min.js": "react-dom.production.min.js",
    "https://unpkg.com/js-cookie@3.0.5/dist/js.cookie.min.js": "js.cookie.min.js",
    "https://unpkg.com/graphiql@3.8.3/graphiql.min.css": "graphiql.min.css",
    "https://unpkg.com/graphiql@3.8.3/graphiql.min.js": "graphiql.min.js",
    "https://unpkg.com/@graphiql/plugin-explorer@1.0.2/dist/style.css": "plugin-explorer.css",
    "https://unpkg.com/@graphiql/plugin-explorer@1.0.2/dist/index.umd.js": "plugin-explorer.umd.js",
}


def self_hosted(html: str) -> str:
    """Strawberry's GraphiQL page with every CDN address pointing at our own copy."""
    for url, name in CDN_FILES.items():
        html = html.replace(url, f"{ASSETS_PATH}/{name}")
    return html


# What GraphiQL's query editor shows first when no query is given (a comment: nothing runs).
WELCOME_QUERY = """# Budgetline: a key comes first. Put it in the Headers tab below:
#   {"Authorization": "Bearer <secret>"}
# (the box above says where to get one), then run this (Ctrl-Enter):
{
  viewer { role apiKeyName account { id name } }
}
"""


def page(template: str, *, introspection: Mapping[str, Any] | None, demo_keys: Sequence[DemoKey]) -> str:
    """GraphiQL for a newcomer who opens /graphql: its assets from this server; the schema in the
    page (GraphiQL needs no key to show the docs and complete names, so there is no error before
    a key is given); a first query; and a note on how to get a key: one link per demo key when
    `serve --demo` loaded them, else the command that creates one. The note shows until a key is
    in the Headers tab (from the link, or remembered by GraphiQL), and can be closed."""
    text = self_hosted(template)
    example = re.search(r"const EXAMPLE_QUERY = `.*?`;", text, re.S)
    assert example is not None, "Strawberry's GraphiQL page changed: see budgetline/graphiql.py"
    text = text.replace(example.group(0), f"const EXAMPLE_QUERY = {json.dumps(WELCOME_QUERY)};")
    if introspection is not None:
        inline = json.dumps(introspection, separators=(",", ":")).replace("</", "<\\/")
        text = text.replace("fetcher: fetcher,", f"fetcher: fetcher,\n          schema: {inline},", 1)
    body = '<div id="graphiql" class="graphiql-container">'
    assert body in text
    return text.replace(body, _note(demo_keys) + body, 1)


@dataclass(frozen=True)
class DemoKey:
    """A key `serve --demo` made, as the GraphiQL page offers it."""

    role: str
    account: str  # the account's name, or "(all accounts)"
    account_id: str | None
    secret: str


def _note(demo_keys: Sequence[DemoKey]) -> str:
    if demo_keys:
        links = "".join(
            f'<li><a href="{html.escape(_link(key))}">{html.escape(key.role)}</a> {html.escape(key.account)}</li>'
            for key in demo_keys
        )
        text = (
            "<b>Pick a demo key to start:</b> each link opens GraphiQL with it in the Headers tab "
            f"and a first query (the step-2 drop-down). <ul>{links}</ul>"
        )
    else:
        text = (
            "<b>This API needs an API key.</b> Create one on the server with "
            "<code>budgetline create-api-key --role ACCOUNT_TEAM --name me</code> (its secret is the last "
            'line it prints), then open the Headers tab below and enter <code>{"Authorization": "Bearer '
            "&lt;secret&gt;\"}</code>. With <code>make run</code>, the demo's keys are printed in the "
            "terminal, and its first link opens this page with one."
        )
    return (
        '<div id="budgetline-welcome" style="position:fixed;z-index:10;right:16px;bottom:16px;max-width:460px;'
        "padding:12px 16px;background:#fffbe6;border:1px solid #e6c200;border-radius:8px;"
        'font:14px/1.4 sans-serif;color:#333;box-shadow:0 2px 8px rgba(0,0,0,.2);display:none">'
        '<button onclick="this.parentNode.remove()" aria-label="close" style="float:right;border:0;'
        'background:none;font-size:16px;cursor:pointer">&times;</button>'
        f"{text}</div>"
        "<script>if (!new URLSearchParams(location.search).get('headers')"
        " && !(localStorage.getItem('graphiql:headers') || '').includes('Authorization'))"
        " { document.getElementById('budgetline-welcome').style.display = 'block'; }</script>"
    )


def _link(key: DemoKey) -> str:
    """/graphql with the key in the Headers tab and the drop-down of its account (or of none)."""
    from budgetline.demo import FIRST_QUERY

    params = {
        "q": FIRST_QUERY if key.account_id else "{\n  accounts { id name requiresPurchaseOrder }\n}\n",
        "variables": json.dumps({"account": key.account_id}) if key.account_id else "",
        "headers": json.dumps({"Authorization": f"Bearer {key.secret}"}),
    }
    return "/graphql?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items() if v)
