// The dashboard in headless Chromium, against a host that ran a simulated day. Started by
// host/tests/host/dashboard.rs, which passes what the page must show:
//
//   BASE        the host, e.g. http://127.0.0.1:PORT
//   TOKEN       its admin token
//   RACES       how many races the day has stored
//   FAILURES    how many failures are open
//   SCREENSHOT  where to keep a picture of the page
//   CHROMIUM    the browser (default /usr/bin/chromium)
//
// Prints one JSON line of what it saw and exits 0, or says what failed and exits 1.
import { chromium } from 'playwright-core';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const BASE = env('BASE');
const TOKEN = env('TOKEN');
const RACES = Number(env('RACES'));
const FAILURES = Number(env('FAILURES'));
const SCREENSHOT = env('SCREENSHOT');

const check = (ok, what) => {
  if (!ok) throw new Error(what);
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--no-first-run'],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
const requests = [];
const problems = [];
page.on('request', (r) => requests.push(r.url()));
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('console', (m) => {
  if (m.type() === 'error') problems.push(`console: ${m.text()}`);
});

const seen = {};
try {
  await page.goto(BASE, { waitUntil: 'load' });
  await page.waitForSelector('body[data-loaded="true"]', { timeout: 20000 });

  // The sources and their health.
  for (const source of ['kra', 'kspo']) {
    const row = page.locator(`[data-testid="source-${source}"]`);
    check(await row.count() === 1, `no row for source ${source}`);
    seen[`${source}_health`] = (await row.locator('td').nth(2).textContent()).trim();
  }

  // The day's races.
  const races = page.locator('tr.race');
  seen.races = await races.count();
  check(seen.races === RACES, `${seen.races} race rows, the day has ${RACES}`);

  // A race with final odds: its drift chart has lines and has drawn them.
  const race = page.locator('tr.race[data-final-odds="true"]').first();
  seen.race = (await race.getAttribute('data-testid')).replace('race-', '');
  await race.click();
  await page.waitForSelector('#chart canvas', { timeout: 10000 });
  await page.waitForFunction(() => Number(document.getElementById('chart').dataset.points) > 0, null, { timeout: 10000 });
  seen.chart_points = Number(await page.locator('#chart').getAttribute('data-points'));
  seen.chart_lines = Number(await page.locator('#chart').getAttribute('data-lines'));
  seen.chart_pixels = await page.evaluate(() => {
    const canvas = document.querySelector('#chart canvas');
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    let inked = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked += 1;
    return inked;
  });
  check(seen.chart_lines > 0 && seen.chart_pixels > 1000, `the chart drew nothing: ${JSON.stringify(seen)}`);
  check((await page.locator('[data-testid="chart-race"]').textContent()).includes(seen.race), 'the chart is not of the chosen race');

  // The open failures; retrying one asks for the token once, then clears it.
  check((await page.locator('[data-testid="failures-total"]').textContent()).trim() === `${FAILURES} open`,
    `failures: ${await page.locator('[data-testid="failures-total"]').textContent()}, expected ${FAILURES} open`);
  const first = page.locator('#failures [data-testid^="retry-"]').first();
  const id = (await first.getAttribute('data-testid')).replace('retry-', '');
  seen.retried = Number(id);
  await first.click();
  await page.waitForSelector('[data-testid="token-form"]:not([hidden])', { timeout: 5000 });
  check((await page.locator('[data-testid="notice"]').textContent()).includes('admin token'), 'no ask for the token');
  await page.fill('[data-testid="token-input"]', TOKEN);
  await page.click('[data-testid="token-save"]');
  await page.locator(`[data-testid="retry-${id}"]`).click();
  await page.waitForFunction(() => document.getElementById('notice').textContent.includes('queued again'), null, { timeout: 10000 });
  // The host runs the job (the test steps it); the next refreshes drop the row.
  await page.waitForSelector(`[data-testid="failure-${id}"]`, { state: 'detached', timeout: 90000 });
  seen.failures_after = (await page.locator('[data-testid="failures-total"]').textContent()).trim();
  check(seen.failures_after === `${FAILURES - 1} open`, `after the retry: ${seen.failures_after}`);
  seen.token_in_session = await page.evaluate(() => sessionStorage.getItem('racelab.adminToken') !== null);
  seen.token_in_local = await page.evaluate(() => Object.keys(localStorage).length > 0);
  check(seen.token_in_session && !seen.token_in_local, 'the token is kept in the session only');

  // The rest of the page came too.
  check(await page.locator('[data-testid^="backfill-"], #backfill li').count() > 0, 'no backfill section');
  check(await page.locator('[data-testid="plugins"] tbody tr').count() >= 2, 'no plugin versions');

  await page.screenshot({ path: SCREENSHOT, fullPage: true });

  // Nothing asked of any other host.
  const foreign = requests.filter((url) => !url.startsWith(`${BASE}/`) && url !== BASE);
  seen.requests = requests.length;
  check(foreign.length === 0, `requests outside the host: ${foreign.join(', ')}`);
  check(problems.length === 0, problems.join('\n'));
  console.log(JSON.stringify(seen));
  await browser.close();
} catch (e) {
  await page.screenshot({ path: SCREENSHOT, fullPage: true }).catch(() => {});
  console.error(`dashboard test failed: ${e.message}\nseen: ${JSON.stringify(seen)}\nproblems: ${problems.join('\n')}`);
  await browser.close();
  process.exit(1);
}
