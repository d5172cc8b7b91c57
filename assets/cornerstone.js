// Entry of the vendored Cornerstone3D bundle (built by `make assets` with esbuild into static/vendor/cornerstone/).
// It exposes the two packages to the viewer module as window.Cornerstone, so the viewer stays a plain script, with
// initLoader(): the DICOM image loader's init() without its eager decoding worker (see below).
import * as core from "@cornerstonejs/core";
import * as dicomImageLoader from "@cornerstonejs/dicom-image-loader";
import * as Comlink from "comlink";

// Uncompressed transfer syntaxes: Implicit VR Little Endian, Explicit VR Little Endian, Explicit VR Big Endian.
// The copies the studio serves are de-identified and re-encoded as Explicit VR Little Endian
// (bundles/deidentify.py), so "decoding" one is a typed-array view and the loader's scaling: no codec is involved.
const UNCOMPRESSED = new Set(["1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"]);

// The loader sends every frame to a web worker ("dicomImageLoader" in Cornerstone's worker manager), which its
// init() starts at once: a thread, a 240 kB module to fetch and compile, and a round trip per frame, all before
// the first frame on a machine with few cores. Here the worker manager gets, in its place, a message port whose
// other end decodes in this thread with the loader's own decodeImageFrame (the worker's code, exported by the
// package), so the frame is copied across exactly as it would be to a worker. A compressed frame, which the
// studio never serves, still goes to the library's worker, started only then.
function inThreadDecoder() {
  const channel = new MessageChannel();
  let worker = null;
  Comlink.expose({
    decodeTask(task) {
      if (UNCOMPRESSED.has(task.transferSyntax)) {
        return dicomImageLoader.decodeImageFrame(
          task.imageFrame, task.transferSyntax, task.pixelData, task.decodeConfig, task.options
        );
      }
      if (!worker) {
        worker = new Worker(new URL("./decodeImageFrameWorker.js", import.meta.url), { type: "module" });
      }
      return Comlink.wrap(worker).decodeTask(task);
    },
  }, channel.port2);
  channel.port1.terminate = function () {  // the manager ends idle "workers" this way
    channel.port1.close();
    if (worker) { worker.terminate(); worker = null; }
  };
  return channel.port1;
}

function initLoader(options = {}) {
  dicomImageLoader.internal.setOptions(options);
  dicomImageLoader.wadouri.register(options);
  core.getWebWorkerManager().registerWorker("dicomImageLoader", inThreadDecoder, { maxWorkerInstances: 1 });
}

window.Cornerstone = { core: core, dicomImageLoader: dicomImageLoader, initLoader: initLoader };
performance.mark("cornerstone:evaluated");  // every bundled module has run (bench/viewer.py reads the marks)
window.dispatchEvent(new Event("cornerstone:ready"));
