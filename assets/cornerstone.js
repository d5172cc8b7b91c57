// Entry of the vendored Cornerstone3D bundle (built by `make assets` with esbuild into static/vendor/cornerstone/).
// It exposes the two packages to the viewer module as window.Cornerstone, so the viewer stays a plain script.
import * as core from "@cornerstonejs/core";
import * as dicomImageLoader from "@cornerstonejs/dicom-image-loader";

window.Cornerstone = { core: core, dicomImageLoader: dicomImageLoader };
window.dispatchEvent(new Event("cornerstone:ready"));
