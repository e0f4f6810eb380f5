/**
 * The platform an entry point installs: Node's here; the browser bundle
 * swaps this file for host.browser.ts (the web page's platform).
 */
export { nodePlatform as hostPlatform } from './node.js';
