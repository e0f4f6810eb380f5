/** The platform the browser bundle installs (host.ts in Node). */
export { browserPlatform as hostPlatform } from './browser.js';
