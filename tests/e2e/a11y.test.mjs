// Accessibility of every page as it first loads (axe-core, WCAG 2.1 A/AA, no serious or
// critical violation), with a screenshot of each: the landing page, the console's sign-in, and
// the patient page's refusal of an unknown link at a 360 px phone width. The faces-*.test.mjs
// files check every later step of each page the same way (lib.mjs lookAndCheck).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, launchPerson, lookAndCheck, axeCheck, waitState } from './lib.mjs';

describe('accessibility of the first views', () => {
  let d, person;
  before(async () => {
    d = await startDaemon();
    person = await launchPerson('a11y');
    await person.page.setViewportSize({ width: 360, height: 740 });
  });
  after(async () => {
    await person?.close();
    await d?.stop();
  });

  it('landing page', async () => {
    await person.page.goto(`${d.base}/`);
    await lookAndCheck(person.page, 'a11y-landing');
  });
  it('console sign-in', async () => {
    await person.page.goto(`${d.base}/console`);
    await person.page.waitForSelector('#login-form', { state: 'visible' });
    await lookAndCheck(person.page, 'a11y-console-login');
  });
  it('patient page, unknown link', async () => {
    await person.page.goto(`${d.base}/join/not-a-real-token-0000000000000000`);
    await waitState(person.page, 'error');
    await lookAndCheck(person.page, 'a11y-patient-unknown');
  });
  it('the checker itself sees a real violation under the pages\' CSP', async () => {
    await person.page.goto(`${d.base}/`);
    await person.page.evaluate(() => {
      const img = document.createElement('img');
      img.src = 'data:image/gif;base64,R0lGODlhAQABAAAAACw=';
      document.querySelector('main').append(img); // an image without alt text: "critical"
    });
    const bad = await axeCheck(person.page, 'a11y-control');
    assert.ok(bad.some((v) => v.startsWith('image-alt')), `axe found: ${JSON.stringify(bad)}`);
  });
});
