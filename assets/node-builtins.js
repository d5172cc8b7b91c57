// Stand-in for the Node built-ins (fs, path, url, events, ...) that some bundled packages name in branches only
// Node runs, so that esbuild can bundle them for the browser: nothing here is called in a browser.
export class EventEmitter {
  on() { return this; }
  emit() { return false; }
}
export const URL = globalThis.URL;
export default { EventEmitter: EventEmitter, URL: globalThis.URL };
