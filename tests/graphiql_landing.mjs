// Opens plain /graphql in headless Chromium, as a newcomer would, and prints what the page shows
// once GraphiQL is up (JSON on stdout): the note's text, whether it is visible, and every error
// text GraphiQL rendered. Usage: node graphiql_landing.mjs <graphql url>
import { chromium } from 'playwright-core';

const [url] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const requests = [];
  page.on('request', (r) => { if (r.method() === 'POST') requests.push(r.postData() || ''); });
  await page.goto(url, { waitUntil: 'networkidle' });
  await page.waitForSelector('.graphiql-query-editor .CodeMirror', { timeout: 20000 });
  await page.waitForTimeout(1000);  // anything GraphiQL would fetch on its own, fetched
  const note = page.locator('#budgetline-welcome');
  const shown = {
    note: (await note.count()) ? await note.innerText() : '',
    noteVisible: (await note.count()) ? await note.isVisible() : false,
    errors: await page.locator('.graphiql-spinner, .graphiql-doc-explorer-error, .result-window').allInnerTexts(),
    body: await page.locator('body').innerText(),
    posts: requests,
  };
  console.log(JSON.stringify(shown));
} finally {
  await browser.close();
}
