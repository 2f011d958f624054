// Opens GraphiQL in headless Chromium, sets the Authorization header, runs a query and
// prints what the result pane shows (JSON on stdout); saves a screenshot.
// Usage: node graphiql_browser.mjs <graphql url> <api key> <query> <screenshot path>
// With "-" as key and query, the URL itself fills them in (the link `make run` prints).
import { chromium } from 'playwright-core';

const [url, key, query, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const failed = [];
  page.on('requestfailed', (r) => failed.push(r.url()));
  await page.goto(url, { waitUntil: 'networkidle' });
  await page.waitForSelector('.graphiql-query-editor .CodeMirror', { timeout: 20000 });

  if (query !== '-') {
    // The query: replace the editor's content (insertText types no brackets of its own).
    await page.click('.graphiql-query-editor .CodeMirror');
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText(query);
  }

  // The header: open the Headers tab of the editor tools (to show it, and to type the key).
  await page.click('.graphiql-editor-tools button[data-name="headers"]');
  if (key !== '-') {
    await page.locator('.graphiql-editor-tool .CodeMirror').filter({ visible: true }).click();
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${key}` }));
  }

  await page.click('.graphiql-execute-button');
  // What the result pane shows, read from its CodeMirror (which renders only the visible lines).
  const shown = () => document.querySelector('.result-window .CodeMirror')?.CodeMirror?.getValue() || '';
  await page.waitForFunction((read) => eval(read)().includes('"data"'), `(${shown})`, { timeout: 20000 });
  const result = await page.evaluate(shown);
  await page.screenshot({ path: screenshot });
  console.log(JSON.stringify({ result, failed }));
} finally {
  await browser.close();
}
