// Runs graphql-http's GraphQL-over-HTTP audits against a live server and prints the results as JSON.
// Usage: node http_audit.mjs <url> <api key> [modern], from a folder whose node_modules has graphql-http.
// With "modern", every request asks for application/graphql-response+json first, as Apollo
// Client 4 does.
import { auditServer } from 'graphql-http';

const [url, key, mode] = process.argv.slice(2);
const MODERN = 'application/graphql-response+json, application/json;q=0.9';
const fetchWithKey = (input, init = {}) => {
  const headers = new Headers(init.headers || {});
  headers.set('Authorization', `Bearer ${key}`);
  if (mode === 'modern') headers.set('Accept', MODERN);
  return fetch(input, { ...init, headers });
};
const results = await auditServer({ url, fetchFn: fetchWithKey });
console.log(JSON.stringify(results.map((r) => ({ id: r.id, name: r.name, status: r.status, reason: r.reason }))));
