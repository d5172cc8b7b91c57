#!/usr/bin/env bash
# Vendor the front-end libraries from the npm registry into static/vendor/ (not committed); run by `make assets`
# and the Dockerfile. Cornerstone3D ships ES modules: esbuild bundles them into one file (assets/cornerstone.js is
# its entry) and its decoding worker, which the bundle loads from beside itself for compressed frames only (the
# page decodes the uncompressed copies the studio serves itself, so the WebAssembly codecs' loaders stay out of its
# bundle: assets/without-codecs.js). Node built-ins named in Node-only branches of some packages point to a
# stand-in (assets/node-builtins.js), and so does xmlbuilder2, which only vtk.js's VTK XML reader and writer name
# (assets/without-xml.js). Every bundled package's licence file is copied to static/vendor/cornerstone/licences/.
set -euo pipefail
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
mkdir -p static/vendor/panzoom static/vendor/cornerstone static/vendor/openseadragon
cp node_modules/@panzoom/panzoom/dist/panzoom.min.js node_modules/@panzoom/panzoom/MIT-License.txt static/vendor/panzoom/
builtins=()
for name in fs path module url worker_threads crypto events; do builtins+=("--alias:$name=./assets/node-builtins.js"); done
builtins+=("--alias:xmlbuilder2=./assets/without-xml.js")
codecs=()  # left out of the page's bundle only: the decoding worker keeps them (assets/without-codecs.js)
for codec in codec-openjph/wasmjs codec-openjpeg/decodewasmjs codec-libjpeg-turbo-8bit/decodewasmjs \
  codec-charls/decodewasmjs codec-libjxl/decodewasmjs; do codecs+=("--alias:@cornerstonejs/$codec=./assets/without-codecs.js"); done
options=(--bundle --format=esm --minify --legal-comments=none --log-level=warning --outdir=static/vendor/cornerstone
  --entry-names='[name]')
rm -rf static/vendor/cornerstone/licences
node_modules/.bin/esbuild assets/cornerstone.js "${options[@]}" --metafile=static/vendor/cornerstone/meta.json \
  "${builtins[@]}" "${codecs[@]}"
node_modules/.bin/esbuild node_modules/@cornerstonejs/dicom-image-loader/dist/esm/decodeImageFrameWorker.js \
  "${options[@]}" --metafile=static/vendor/cornerstone/meta-worker.json "${builtins[@]}"
node assets/licences.mjs static/vendor/cornerstone/meta.json static/vendor/cornerstone/meta-worker.json \
  static/vendor/cornerstone
rm static/vendor/cornerstone/meta.json static/vendor/cornerstone/meta-worker.json
cp node_modules/openseadragon/build/openseadragon/openseadragon.min.js \
  node_modules/openseadragon/build/openseadragon/openseadragon.min.js.map node_modules/openseadragon/LICENSE.txt \
  static/vendor/openseadragon/
