#!/usr/bin/env bash
# Vendor the front-end libraries from the npm registry into static/vendor/ (not committed); run by `make assets`
# and the Dockerfile. Cornerstone3D ships ES modules: esbuild bundles them into one file (assets/cornerstone.js is
# its entry) and its decoding worker, which the bundle loads from beside itself. Node built-ins named in Node-only
# branches of some packages point to a stand-in (assets/node-builtins.js). Every bundled package's licence file is
# copied to static/vendor/cornerstone/licences/.
set -euo pipefail
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
mkdir -p static/vendor/panzoom static/vendor/cornerstone static/vendor/openseadragon
cp node_modules/@panzoom/panzoom/dist/panzoom.min.js node_modules/@panzoom/panzoom/MIT-License.txt static/vendor/panzoom/
builtins=()
for name in fs path module url worker_threads crypto events; do builtins+=("--alias:$name=./assets/node-builtins.js"); done
node_modules/.bin/esbuild assets/cornerstone.js \
  node_modules/@cornerstonejs/dicom-image-loader/dist/esm/decodeImageFrameWorker.js \
  --bundle --format=esm --minify --legal-comments=none --log-level=warning \
  --outdir=static/vendor/cornerstone --entry-names='[name]' --metafile=static/vendor/cornerstone/meta.json \
  "${builtins[@]}"
node assets/licences.mjs static/vendor/cornerstone/meta.json static/vendor/cornerstone
rm static/vendor/cornerstone/meta.json
cp node_modules/openseadragon/build/openseadragon/openseadragon.min.js \
  node_modules/openseadragon/build/openseadragon/openseadragon.min.js.map node_modules/openseadragon/LICENSE.txt \
  static/vendor/openseadragon/
