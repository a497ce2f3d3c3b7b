// Headless-Chromium end-to-end test of `bbo dashboard`. Started by browser_test.sh, which creates a study
// with `bbo run`, starts the dashboard and passes its URL; this script starts nothing itself.
//   node browser_test.js URL STUDY_NAME SCREENSHOT_DIR
// Exits 0 when every check passes, 1 otherwise (the failing check on stderr).
'use strict';

const {chromium} = require('playwright-core');

const [url, studyName, outDir] = process.argv.slice(2);
if (!url || !studyName || !outDir) {
  console.error('usage: node browser_test.js URL STUDY_NAME SCREENSHOT_DIR');
  process.exit(2);
}

function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
  console.log('ok: ' + what);
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const errors = [];
  let status = 0;
  try {
    const page = await browser.newPage({viewport: {width: 1500, height: 1250}});
    page.on('pageerror', (e) => errors.push('page error: ' + e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
    page.setDefaultTimeout(10000);

    await page.goto(url);
    // The study is listed.
    const link = page.locator(`#study-list a[data-study="${studyName}"]`);
    await link.waitFor();
    check(await link.count() === 1, `study '${studyName}' is listed`);
    await link.click();

    // The table shows its trials.
    await page.locator('#trials-table tbody tr[data-number]').first().waitFor();
    const rows = await page.locator('#trials-table tbody tr[data-number]').count();
    check(rows > 0, `the trial table shows ${rows} trial(s)`);
    check((await page.locator('#study-name').textContent()) === studyName, 'the study heading names the study');
    const info = await page.locator('#pager-info').textContent();
    check(/of \d+/.test(info), `the pager counts the trials ("${info}")`);

    // Tell the wrapper the page is up: it now adds a RUNNING trial from another process (checked below).
    require('fs').writeFileSync(`${outDir}/page_ready`, '');
    const before = Number(await page.locator('#study-counts .count .n').first().textContent());

    // Sorting by value (click the header) puts the best trial first.
    await page.locator('#trials-table th[data-sort="value"]').click();
    await page.waitForFunction(() => document.querySelector('#trials-table th.sorted')?.dataset.sort === 'value');
    await page.waitForTimeout(300);
    const firstNumber = await page.locator('#trials-table tbody tr[data-number]').first().getAttribute('data-number');
    const bestText = await page.locator('#study-extra .note a').first().textContent();
    check(bestText === `#${firstNumber}`, `sorted by value, the first row is the best trial (${bestText})`);

    // A trial's details, with its parameters and its `bbo run` log.
    await page.locator('#trials-table tbody tr[data-number]').first().click();
    await page.waitForFunction((n) => document.querySelector('#detail-title')?.textContent.includes('#' + n),
                               firstNumber);
    const detail = await page.locator('#detail-body').textContent();
    check(detail.includes('Parameters'), 'the trial detail lists the parameters');
    check(detail.includes('Intermediate values'), 'the trial detail shows the intermediate values');
    check(await page.locator('#detail-body pre.log').count() === 1 &&
          (await page.locator('#detail-body pre.log').textContent()).includes('bbo: {"value"'),
          'the trial detail shows the log written by bbo run');

    // A plot (an SVG rendered by the server), when this bbo has plots.
    const kinds = await page.locator('#plot-kind option').count();
    if (kinds > 0) {
      const img = page.locator('#plot img');
      await img.waitFor();
      await page.waitForFunction(() => {
        const i = document.querySelector('#plot img');
        return i && i.complete && i.naturalWidth > 0;
      });
      check(true, `a plot is shown (${await img.getAttribute('data-kind')})`);
    } else {
      console.log('note: this bbo was built without plots');
    }

    // Live refresh: the trial asked meanwhile appears without a reload (the page polls every 2 s).
    await page.waitForFunction((n) => Number(document.querySelector('#study-counts .count .n')?.textContent) === n + 1,
                               before, {timeout: 15000});
    check(true, `the page picked up the new trial (${before} -> ${before + 1}) without a reload`);
    await page.locator('#state-filter input[value="RUNNING"]').check();
    await page.waitForFunction(() => document.querySelectorAll('#trials-table tbody tr[data-number]').length === 1);
    check(true, 'the state filter shows the one RUNNING trial');
    await page.locator('#state-filter input[value="RUNNING"]').uncheck();
    await page.locator('#trials-table tbody tr[data-number]').first().click();

    await page.waitForTimeout(300);
    const shot = `${outDir}/dashboard_screenshot.png`;
    await page.screenshot({path: shot, fullPage: true});
    console.log('screenshot: ' + shot);
    check(errors.length === 0, 'no errors in the page' + (errors.length ? ': ' + errors.join('; ') : ''));
  } catch (e) {
    console.error(e.message);
    for (const m of errors) console.error(m);
    status = 1;
  } finally {
    await browser.close();
  }
  process.exit(status);
})();
