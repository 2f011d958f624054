// PostGraphile v5 (Grafast) for the benchmark: the amber preset over the public schema, the same
// computed columns as v4 (bench/postgraphile.sql), WORKERS processes sharing PORT (node:cluster).
// bench/run.py copies this file next to its node_modules (bench/.node5) and runs it with Node 22.
import cluster from "node:cluster";
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

const workers = Number(process.env.WORKERS || "1");
const port = Number(process.env.PORT);

if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on("exit", () => process.exit(1));
} else {
  const preset = {
    extends: [PostGraphileAmberPreset],
    pgServices: [makePgService({ connectionString: process.env.DATABASE_URL, schemas: ["public"] })],
    grafserv: { port, host: "127.0.0.1" },
  };
  const serv = postgraphile(preset).createServ(grafserv);
  const server = createServer();
  server.on("error", (e) => {
    console.error(e);
    process.exit(1);
  });
  await serv.addTo(server);
  server.listen(port, "127.0.0.1");
}
