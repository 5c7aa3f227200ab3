"""Browser tests of the status page (web/): headless Chromium driven by Playwright."""
