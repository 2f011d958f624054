"""The README's "For front-end developers" section, followed as written: the packages of its
`npm install` lines, its files (codegen.ts, tsconfig.json, the Apollo, urql and Relay setups),
GraphQL Code Generator and relay-compiler on schema.graphql, tsc, then its program and the three
clients against a live server. Skipped, with the reason, where Node.js is absent."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLInterfaceType, GraphQLUnionType, build_schema

from resolvers import ids
from tests.conftest import ROOT
from tests.helpers import Api

NODE_DIR = ROOT / "tests" / ".node" / "frontend"  # an npm prefix of its own, gitignored with tests/.node/
TITLE = "## For front-end developers"
FILE_BLOCK = re.compile(r"`([\w./-]+)`:\n\n```\w*\n(.*?)^```", re.M | re.S)
FILES = {
    "codegen.ts",
    "graphql/dropdown.graphql",
    "tsconfig.json",
    "src/sha256.ts",
    "src/apollo.ts",
    "src/main.ts",
    "src/urql.ts",
    "relay.config.json",
    "src/relay.ts",
    "src/Dropdown.ts",
}
CUSTOM_SCALARS = ("Decimal", "Date", "DateTime")

# Operations of the test's own, beside the README's: every custom scalar in an answer and in an
# input, and a mutation whose errors are selected through the UserError interface.
CHECK_DOCUMENT = """
query CheckScalars($account: ID!) {
  account(id: $account) {
    budgetSources { startDate endDate allocations(first: 1) { edges { node { at delta } } } }
    campaigns(first: 1) { edges { node { budget startDate endDate publishedAt } } }
  }
}

mutation CheckUpdate($input: UpdateCampaignInput!) {
  updateCampaign(input: $input) { __typename }
}

mutation CheckDelete($campaign: ID!) {
  deleteCampaignDraft(input: { campaignId: $campaign }) {
    __typename
    ... on UserError { code message field }
  }
}
"""

# Runs the README's clients: each request is recorded (method, whether it carried the query or
# only its APQ hash, the answer), and the results are printed as one JSON object.
CHECK_PROGRAM = """
import { fetchQuery } from 'relay-runtime';
import { apolloClient } from './apollo';
import { urqlClient } from './urql';
import { relayEnvironment } from './relay';
import { CheckDeleteDocument, DropdownDocument } from './generated/graphql';
import DropdownQueryNode, { type DropdownQuery } from './__generated__/DropdownQuery.graphql';
import CampaignsPage from './__generated__/DropdownCampaignsPaginationQuery.graphql';
import LedgerQueryNode from './__generated__/DropdownLedgerQuery.graphql';

const [key, account, url, missingCampaign] = process.argv.slice(2);
let client = '';
const requests: { client: string; method: string; query: boolean; hash: boolean; answer: any }[] = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
  const target = new URL(input instanceof Request ? input.url : String(input));
  const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
  const body = method === 'POST' ? JSON.parse(String(init?.body)) : {};
  const extensions = body.extensions ?? JSON.parse(target.searchParams.get('extensions') ?? '{}');
  const response = await realFetch(input, init);
  requests.push({
    client,
    method,
    query: Boolean(body.query ?? target.searchParams.get('query')),
    hash: Boolean(extensions.persistedQuery?.sha256Hash),
    answer: await response.clone().json(),
  });
  return response;
};

client = 'apollo';
const apollo = [];
for (let i = 0; i < 2; i++) {  // a second client: its cache is empty, the server knows the hash
  apollo.push((await apolloClient(key, url).query({ query: DropdownDocument, variables: { account } })).data);
}
const deleted = await apolloClient(key, url).mutate({
  mutation: CheckDeleteDocument,
  variables: { campaign: missingCampaign },
});

client = 'urql';
const urql = [];
for (let i = 0; i < 2; i++) {
  const result = await urqlClient(key, url).query(DropdownDocument, { account }).toPromise();
  if (result.error) throw result.error;
  urql.push(result.data);
}

client = 'relay';
const environment = relayEnvironment(key, url);
const relay = await fetchQuery<DropdownQuery>(environment, DropdownQueryNode, { account }).toPromise();
const source = relay?.account?.budgetSources[0].id ?? '';
await fetchQuery(environment, CampaignsPage, { id: account, count: 1 }).toPromise();
await fetchQuery(environment, LedgerQueryNode, { source }).toPromise();
await fetchQuery(environment, DropdownQueryNode, { account }).toPromise();  // now known by its hash

console.log(JSON.stringify({ apollo, deleted: deleted.data, urql, relay: relay?.account?.budgetSources, requests }));
"""


def section() -> str:
    readme = (ROOT / "README.md").read_text()
    assert TITLE in readme, f"README.md has no {TITLE!r} section"
    start = readme.index(TITLE)
    end = readme.find("\n## ", start + len(TITLE))
    return readme[start : end if end != -1 else len(readme)]


def readme_files() -> dict[str, str]:
    """The files the section shows: a code block right after a line ending in "`path`:"."""
    return dict(FILE_BLOCK.findall(section()))


def readme_packages() -> list[str]:
    """The packages of the section's `npm install` lines."""
    packages: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", section(), re.S):
        for line in block.splitlines():
            if line.startswith("npm install "):
                packages += [word for word in line.split()[2:] if not word.startswith("-")]
    return packages


def test_the_section_shows_every_file_and_pins_every_package() -> None:
    text = section()
    assert set(readme_files()) == FILES
    packages = readme_packages()
    assert all(re.fullmatch(r"(@[\w-]+/)?[\w.-]+@\d+", package) for package in packages), packages
    for command in ("npx graphql-codegen", "npx relay-compiler", "npx tsc", "npx tsx src/main.ts"):
        assert f"`{command}" in text, command
    # Mapped scalars are checked on the generated code; strictScalars guards a scalar added later.
    codegen = readme_files()["codegen.ts"]
    assert "strictScalars: true" in codegen and "'fragment-matcher'" in codegen
    assert json.loads(readme_files()["relay.config.json"])["customScalarTypes"] == dict.fromkeys(
        CUSTOM_SCALARS, "string"
    )


def install(packages: list[str]) -> None:
    """npm install into NODE_DIR, once per list of packages."""
    stamp = NODE_DIR / "installed.json"
    if stamp.exists() and json.loads(stamp.read_text()) == sorted(packages):
        return
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    (NODE_DIR / "package.json").write_text('{"private": true}\n')  # npm's project is here, not tests/.node
    subprocess.run(
        ["npm", "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", "--loglevel=error", *packages],
        check=True,
        timeout=600,
    )
    stamp.write_text(json.dumps(sorted(packages)))


def run(folder: Path, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    """One of the installed command-line tools (what `npx tool` runs), in the project folder."""
    done = subprocess.run(
        [str(NODE_DIR / "node_modules" / ".bin" / tool), *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, f"{tool} {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder set up as the section says, after codegen, relay-compiler and tsc."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to follow the README's front-end section; install Node.js 20 or later")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout
    if int(version.lstrip("v").split(".")[0]) < 20:
        pytest.skip(f"the README's front-end section needs Node.js 20 or later, not {version.strip()}")
    install(readme_packages())
    folder = tmp_path_factory.mktemp("frontend")
    # What `npm init -y && npm pkg set type=module` and the installs leave that matters.
    (folder / "package.json").write_text('{"private": true, "type": "module"}\n')
    (folder / "node_modules").symlink_to(NODE_DIR / "node_modules")
    shutil.copy(ROOT / "schema.graphql", folder / "schema.graphql")
    for name, text in readme_files().items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    (folder / "graphql" / "check.graphql").write_text(CHECK_DOCUMENT)
    run(folder, "graphql-codegen")
    run(folder, "relay-compiler")
    (folder / "src" / "check.ts").write_text(CHECK_PROGRAM)
    run(folder, "tsc")
    return folder


def typed_as_string(generated: str, *fields: str) -> None:
    for field in fields:
        assert re.search(rf"\b{field}\??: string\b", generated), f"{field} is not typed string"
    untyped = re.findall(r"\b\w+\??: (?:any|unknown)\b", generated)
    assert untyped == [], f"typed any or unknown: {untyped}"


@pytest.mark.slow
def test_codegen_types_the_scalars_as_strings_and_writes_possible_types(project: Path) -> None:
    generated = (project / "src" / "generated" / "graphql.ts").read_text()
    typed_as_string(generated, "amount", "unallocatedAmount", "startDate", "endDate", "at", "delta", "publishedAt")
    assert re.search(r"export type UpdateCampaignInput = \{[^}]*\bbudget\?: string", generated)

    possible = (project / "src" / "generated" / "possible-types.ts").read_text()
    literal = re.search(r"= (\{.*\});\s*export default", possible, re.S)
    assert literal, possible
    found = json.loads(literal.group(1))["possibleTypes"]
    sdl = (ROOT / "schema.graphql").read_text()
    schema = build_schema(sdl)
    expected = {
        name: sorted(t.name for t in schema.get_possible_types(kind))
        for name, kind in schema.type_map.items()
        if isinstance(kind, GraphQLInterfaceType | GraphQLUnionType)
    }
    assert {name: sorted(types) for name, types in found.items()} == expected
    user_errors = sorted(re.findall(r"^type (\w+) implements [^{]*\bUserError\b", sdl, re.M))
    assert len(user_errors) >= 10 and sorted(found["UserError"]) == user_errors


@pytest.mark.slow
def test_relay_compiler_builds_both_connections_with_string_scalars(project: Path) -> None:
    artifacts = project / "src" / "__generated__"
    campaigns = (artifacts / "DropdownCampaigns_account.graphql.ts").read_text()
    ledger = (artifacts / "DropdownLedger_budgetSource.graphql.ts").read_text()
    assert '"name": "__DropdownCampaigns_campaigns_connection"' in campaigns  # @connection
    assert '"name": "__DropdownLedger_allocations_connection"' in ledger
    for artifact in sorted(artifacts.glob("*.graphql.ts")):
        text = artifact.read_text()
        assert not re.search(r"\breadonly \w+\??: (?:any|unknown)\b", text), artifact.name
    for text, fields in (
        ((artifacts / "DropdownQuery.graphql.ts").read_text(), ("amount", "unallocatedAmount")),
        (campaigns, ("startDate", "endDate")),
        (ledger, ("at", "delta")),
    ):
        for field in fields:
            assert re.search(rf"\breadonly {field}: string(?: \| null \| undefined)?;", text), field
    assert re.search(r"\breadonly budget: string \| null \| undefined;", campaigns)
    for query in ("DropdownCampaignsPaginationQuery", "DropdownLedgerPaginationQuery", "DropdownLedgerQuery"):
        assert (artifacts / f"{query}.graphql.ts").exists(), query


@pytest.mark.slow
async def test_the_section_s_clients_run_against_a_live_server(project: Path, api: Api, live_servers: Any) -> None:
    world = await api.world(po_amount="10000.00")
    await world.published("2500.00")
    [server] = live_servers(1)
    url = server.url + "/graphql"

    main = await asyncio.to_thread(run, project, "tsx", "src/main.ts", world.viewer, world.account, url)
    assert main.stdout.splitlines() == ["PO PO-Acme-1 (Order Q-Acme-1): 7500.00 of 10000.00 USD unallocated"]

    missing = ids.encode("Campaign", 999_999)
    done = await asyncio.to_thread(run, project, "tsx", "src/check.ts", world.manager, world.account, url, missing)
    report = json.loads(done.stdout)
    source = {
        "id": world.po,
        "displayName": "PO PO-Acme-1 (Order Q-Acme-1)",
        "amount": "10000.00",
        "unallocatedAmount": "7500.00",
        "currency": "USD",
    }
    for client in ("apollo", "urql"):
        for data in report[client]:
            [answer] = data["account"]["budgetSources"]
            assert answer | source == answer, (client, answer)
    [answer] = report["relay"]
    assert answer | source == answer
    # Apollo's cache knows NotFoundError is a UserError (possibleTypes): the fields are kept.
    assert report["deleted"]["deleteCampaignDraft"] == {
        "__typename": "NotFoundError",
        "code": "NOT_FOUND",
        "message": "no campaign with this campaignId",
        "field": "campaignId",
    }

    requests = report["requests"]
    assert all(
        "errors" not in r["answer"] or r["answer"]["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        for r in requests
    ), requests
    for client, method in (("apollo", "GET"), ("urql", "GET"), ("relay", "POST")):
        sent = [r for r in requests if r["client"] == client]
        assert all(r["hash"] for r in sent), (client, sent)  # APQ on every request
        hash_only = [r for r in sent if not r["query"] and "data" in r["answer"]]
        assert hash_only and all(r["method"] == method for r in hash_only), (client, sent)
    relay = [r["answer"]["data"] for r in requests if r["client"] == "relay" and "data" in r["answer"]]
    [campaigns_page, ledger_page] = [data["node"] for data in relay if "node" in data]
    [campaign] = [edge["node"] for edge in campaigns_page["campaigns"]["edges"]]
    assert campaign | {"budget": "2500.00", "status": "PUBLISHED"} == campaign
    assert [edge["node"]["delta"] for edge in ledger_page["allocations"]["edges"]] == ["2500.00"]
