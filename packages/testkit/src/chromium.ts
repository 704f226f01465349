/**
 * Flags for Debian's headless Chromium in the browser tests: no sandbox (CI runs as root), and no
 * network of its own (updates, sync, QUIC) so that a test only ever talks to 127.0.0.1.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

/** Where the browser tests find Debian's Chromium (`.ci/run` installs it). */
export const CHROMIUM_PATH = '/usr/bin/chromium';
