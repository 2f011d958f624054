// Runs graphql-http's GraphQL-over-HTTP audits against a live server and prints the results as JSON.
// Usage: node http_audit.mjs <url> <api key>, from a folder whose node_modules has graphql-http.
import { auditServer } from 'graphql-http';

const [url, key] = process.argv.slice(2);
const fetchWithKey = (input, init = {}) => {
  const headers = new Headers(init.headers || {});
  headers.set('Authorization', `Bearer ${key}`);
  return fetch(input, { ...init, headers });
};
const results = await auditServer({ url, fetchFn: fetchWithKey });
console.log(JSON.stringify(results.map((r) => ({ id: r.id, name: r.name, status: r.status, reason: r.reason }))));
