// The graphql-ws reference client (npm), as an SPA would use it: one socket, two subscriptions.
// Prints one JSON line per event ({sub, data} or {sub, error}), and exits once a campaign named
// "done" arrives (or after 60 s). Usage: node subscription_client.mjs <ws url> <api key> <account id>
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, key, accountId] = process.argv.slice(2);
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${key}` },
  retryAttempts: 0,
});
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const timer = setTimeout(() => finish(2), 60_000);

function finish(code) {
  clearTimeout(timer);
  client.dispose();
  process.exit(code);
}

const subscriptions = {
  campaigns: `subscription($a: ID!) { campaignUpdated(accountId: $a) { id name status spentAmount } }`,
  sources: `subscription($a: ID!) { budgetSourceUpdated(accountId: $a) { __typename id allocatedAmount spentAmount } }`,
};
for (const [sub, query] of Object.entries(subscriptions)) {
  client.subscribe(
    { query, variables: { a: accountId } },
    {
      next: (result) => {
        print({ sub, data: result.data, errors: result.errors });
        if (result.data?.campaignUpdated?.name === "done") finish(0);
      },
      error: (error) => {
        print({ sub, error: String(error?.message ?? error?.reason ?? error) });
        finish(1);
      },
      complete: () => print({ sub, complete: true }),
    },
  );
}
client.on("connected", () => print({ connected: true }));
