// Image viewer of the clinician workspace (templates/annotation/_viewer.html). Each image is one of:
//   dicom  — the de-identified copy of every frame, drawn by Cornerstone3D: window/level by drag and keys,
//            presets, invert, zoom/pan, frames by slider and keys, the frame the model was shown marked;
//   tiles  — a Deep Zoom pyramid of a large image, drawn by OpenSeadragon;
//   image  — the web derivative, zoomed and panned by @panzoom/panzoom with CSS brightness/contrast.
// The derivative <img> stays in the page as the view without JavaScript (and until a library has drawn).
// The state of every image (window, frame, zoom) is kept in the hidden viewer_state input of the annotation form.
(function () {
  "use strict";
  if (window.imcbenchViewer) { return; }  // the partial and a page may both load this script: run it once
  window.imcbenchViewer = true;
  var engine = null;
  var cornerstoneReady = null;

  function whenCornerstone() {
    if (cornerstoneReady) { return cornerstoneReady; }
    cornerstoneReady = new Promise(function (resolve) {
      if (window.Cornerstone) { resolve(window.Cornerstone); return; }
      window.addEventListener("cornerstone:ready", function () { resolve(window.Cornerstone); }, { once: true });
    }).then(function (cs) {
      cs.core.init();
      // A software rasteriser (no GPU, as in many virtual desktops) emulates WebGL slowly: Cornerstone's CPU path
      // draws a stack faster there. A real GPU keeps WebGL.
      if (cs.core.getRenderingCapabilities().softwareRasterizer) { cs.core.setUseCPURendering(true); }
      cs.initLoader();  // the DICOM loader, decoding the uncompressed copies in this thread (assets/cornerstone.js)
      engine = new cs.core.RenderingEngine("imcbench-viewer");
      performance.mark("cornerstone:initialised");
      return cs;
    });
    return cornerstoneReady;
  }

  function typing(target) {
    return target.closest("textarea, select, [contenteditable]") ||
      (target.tagName === "INPUT" && !/^(radio|checkbox|button|submit|range)$/.test(target.type));
  }

  function init(viewer) {
    var stage = viewer.querySelector(".viewer-stage");
    var stateInput = viewer.querySelector("[data-viewer-state]");
    var frameBox = viewer.querySelector("[data-viewer-frames]");
    var frameInput = viewer.querySelector("[data-viewer-frame]");
    var frameLabel = viewer.querySelector("[data-viewer-frame-label]");
    var shownNote = viewer.querySelector("[data-viewer-shown]");
    var shownMarker = viewer.querySelector("[data-viewer-shown-marker]");
    var presetSelect = viewer.querySelector("[data-viewer-preset]");
    var invertButton = viewer.querySelector('[data-viewer-action="invert"]');
    var voiOutput = viewer.querySelector("[data-viewer-voi]");
    var filters = { brightness: 100, contrast: 100 };
    var items = Array.prototype.slice.call(viewer.querySelectorAll(".viewer-item")).map(function (node, index) {
      return { node: node, index: index, config: JSON.parse(node.dataset.config), img: node.querySelector("img"),
               canvas: node.querySelector("[data-viewer-canvas]"), state: { framesSeen: {} } };
    });
    var current = items[0];
    // The other DICOM images of a case are requested once the first image is drawn (or has failed), so that
    // the one on screen has the connection and the main thread to itself.
    var firstViewDrawn;
    var firstView = new Promise(function (resolve) { firstViewDrawn = resolve; });

    // --- the recorded state -------------------------------------------------------------------
    function record() {
      var images = {};
      items.forEach(function (item) {
        var s = item.state;
        var entry = { kind: item.config.kind, zoom: round(s.zoom || 1, 2) };
        if (item.config.kind === "dicom") {
          entry.frame = s.frame + 1;
          entry.frames_seen = Object.keys(s.framesSeen).length;
          entry.window = s.voi ? [round(s.voi.centre, 1), round(s.voi.width, 1)] : null;
          entry.preset = s.preset || null;
          entry.invert = !!s.invert;
        }
        images[item.config.id] = entry;
      });
      stateInput.value = JSON.stringify({ images: images });
    }
    function round(value, digits) { var f = Math.pow(10, digits); return Math.round(value * f) / f; }

    // The first complete view of an image: the derivative beneath gives way (its time is read by bench/viewer.py).
    function rendered(item) {
      if (item === items[0]) { firstViewDrawn(); }
      item.node.dataset.rendered = "true";
      item.node.dataset.renderedAt = String(Math.round(performance.now()));
      item.img.hidden = true;
    }

    // --- plain images: panzoom and CSS filters --------------------------------------------------
    function setupPlain(item) {
      item.zoom = window.Panzoom(item.img, { maxScale: 12, minScale: 0.5, step: 0.3, canvas: true });
      item.img.addEventListener("panzoomchange", function (event) { item.state.zoom = event.detail.scale; record(); });
    }
    function applyFilters() {
      items.forEach(function (item) {
        var filter = "brightness(" + filters.brightness + "%) contrast(" + filters.contrast + "%)";
        item.img.style.filter = filter;
        if (item.canvas && item.config.kind === "tiles") { item.canvas.style.filter = filter; }
      });
    }

    // --- Deep Zoom: OpenSeadragon ------------------------------------------------------------------
    function setupTiles(item) {
      if (!window.OpenSeadragon) { setupPlain(item); return; }
      // OpenSeadragon injects an inline <style> (its touch-screen focus rule, now in viewer.css), which the strict
      // style-src refuses, unless it finds an element named style with this attribute: one outside the HTML
      // namespace is no style sheet, so nothing is applied or refused.
      if (!document.querySelector("style[data-openseadragon-mobile-css]")) {
        var marker = document.createElementNS("urn:x-imcbench:marker", "style");
        marker.setAttribute("data-openseadragon-mobile-css", "true");
        document.head.appendChild(marker);
      }
      item.canvas.hidden = false;
      // The canvas drawer: a flat pyramid needs none of the WebGL drawer's effects, and the WebGL one costs a
      // context probe and, without a GPU, a software-rendered first view several times slower.
      item.osd = window.OpenSeadragon({
        element: item.canvas, tileSources: item.config.tiles, showNavigationControl: false,
        maxZoomPixelRatio: 4, visibilityRatio: 0.5, crossOriginPolicy: false, drawer: "canvas"
      });
      item.osd.world.addHandler("add-item", function (event) {
        event.item.addHandler("fully-loaded-change", function (change) {
          if (change.fullyLoaded && !item.node.dataset.rendered) { rendered(item); }
        });
      });
      item.osd.addHandler("zoom", function (event) { item.state.zoom = event.zoom; record(); });
    }

    // --- DICOM: Cornerstone3D ----------------------------------------------------------------------
    function frameIds(config) {
      var url = new URL(config.dicom, window.location.href).href;
      if (config.frames <= 1) { return ["wadouri:" + url]; }
      var ids = [];
      for (var i = 1; i <= config.frames; i += 1) { ids.push("wadouri:" + url + "?frame=" + i); }
      return ids;
    }
    function setupDicom(item) {
      item.state.frame = item.config.shownFrame;
      whenCornerstone().then(function (cs) {
        item.cs = cs;
        item.canvas.hidden = false;
        var viewportId = "viewer-" + item.index;
        engine.enableElement({ viewportId: viewportId, type: cs.core.Enums.ViewportType.STACK, element: item.canvas });
        item.viewport = engine.getViewport(viewportId);
        item.canvas.addEventListener(cs.core.Enums.Events.IMAGE_RENDERED, function () {
          // The CPU path also reports the empty canvas drawn when the element is enabled: wait for an image.
          if (!item.node.dataset.rendered && item.viewport.getCornerstoneImage()) {
            rendered(item);
            item.defaultInvert = !!item.viewport.getProperties().invert;  // MONOCHROME1 starts inverted
            item.state.invert = item.defaultInvert;
            applyPreset(item, 0);
            if (item === current) { showTools(); }
          }
        });
        item.canvas.addEventListener(cs.core.Enums.Events.STACK_NEW_IMAGE, function () {
          item.state.frame = item.viewport.getCurrentImageIdIndex();
          item.state.framesSeen[item.state.frame] = true;
          if (item === current) { showFrame(); }
          record();
        });
        return item.viewport.setStack(frameIds(item.config), item.config.shownFrame);
      }).then(function () {
        item.state.framesSeen[item.config.shownFrame] = true;
        item.node.dataset.frame = String(item.state.frame + 1);
        item.viewport.render();
      }).catch(function (error) {
        if (item === items[0]) { firstViewDrawn(); }
        item.node.dataset.error = String(error && error.message || error);
        item.canvas.hidden = true;
        item.img.hidden = false;
        setupPlain(item);
      });
      dragWindowLevel(item);
    }
    function readVoi(item) {
      var range = item.viewport.getProperties().voiRange;
      if (!range) { return; }
      item.state.voi = { centre: (range.lower + range.upper) / 2, width: range.upper - range.lower };
    }
    function setVoi(item, centre, width, presetName) {
      width = Math.max(1, width);
      item.viewport.setProperties({ voiRange: { lower: centre - width / 2, upper: centre + width / 2 } });
      item.viewport.render();
      item.state.voi = { centre: centre, width: width };
      item.state.preset = presetName || null;
      if (item === current) { showVoi(); }
      record();
    }
    function fullRange(item) {
      var image = item.viewport.getCornerstoneImage && item.viewport.getCornerstoneImage();
      if (!image) { return null; }
      var low = image.minPixelValue * (image.slope || 1) + (image.intercept || 0);
      var high = image.maxPixelValue * (image.slope || 1) + (image.intercept || 0);
      return { name: "Full range", centre: (low + high) / 2, width: Math.max(1, high - low) };
    }
    function presetList(item) {
      var list = (item.config.presets || []).slice();
      if (!list.length) {
        readVoi(item);
        if (item.state.voi) { list.push({ name: "Default", centre: item.state.voi.centre, width: item.state.voi.width }); }
      }
      var full = fullRange(item);
      if (full) { list.push(full); }
      return list;
    }
    function applyPreset(item, index) {
      var list = presetList(item);
      if (!list.length) { return; }
      item.state.presetIndex = ((index % list.length) + list.length) % list.length;
      var preset = list[item.state.presetIndex];
      setVoi(item, preset.centre, preset.width, preset.name);
      if (item === current) { fillPresets(); }
    }
    function dragWindowLevel(item) {
      var start = null;
      item.canvas.addEventListener("contextmenu", function (event) { event.preventDefault(); });
      item.canvas.addEventListener("pointerdown", function (event) {
        if (!item.viewport) { return; }
        readVoi(item);
        var pan = event.shiftKey || event.button !== 0;
        start = { x: event.clientX, y: event.clientY, pan: pan, voi: item.state.voi,
                  panAt: item.viewport.getPan(), zoom: item.viewport.getZoom() };
        item.canvas.setPointerCapture(event.pointerId);
        event.preventDefault();
      });
      item.canvas.addEventListener("pointermove", function (event) {
        if (!start) { return; }
        var dx = event.clientX - start.x, dy = event.clientY - start.y;
        if (start.pan) {
          item.viewport.setPan([start.panAt[0] + dx / start.zoom, start.panAt[1] + dy / start.zoom]);
          item.viewport.render();
        } else if (start.voi) {
          var step = Math.max(start.voi.width, 1) / 200;  // a 200-pixel drag doubles or empties the window
          setVoi(item, start.voi.centre + dy * step, start.voi.width + dx * step, null);
        }
      });
      function end() { start = null; }
      item.canvas.addEventListener("pointerup", end);
      item.canvas.addEventListener("pointercancel", end);
    }
    function zoomDicom(item, factor) {
      if (!item.viewport) { return; }
      item.viewport.setZoom(item.viewport.getZoom() * factor);
      item.viewport.render();
      item.state.zoom = item.viewport.getZoom();
      record();
    }
    function setFrame(item, frame) {
      if (!item.viewport) { return; }
      var last = item.config.frames - 1;
      frame = Math.max(0, Math.min(last, frame));
      item.viewport.setImageIdIndex(frame).then(function () { item.node.dataset.frame = String(frame + 1); });
    }

    // --- toolbar, frames, thumbnails ---------------------------------------------------------------
    function fillPresets() {
      presetSelect.innerHTML = "";
      if (!current.viewport) { return; }
      presetList(current).forEach(function (preset, index) {
        var option = document.createElement("option");
        option.value = String(index);
        option.textContent = preset.name;
        option.title = "W " + Math.round(preset.width) + " · L " + Math.round(preset.centre);
        option.selected = index === current.state.presetIndex && current.state.preset === preset.name;
        presetSelect.appendChild(option);
      });
      if (!current.state.preset) {
        var custom = document.createElement("option");
        custom.value = "";
        custom.textContent = "Custom";
        custom.selected = true;
        custom.disabled = true;
        presetSelect.appendChild(custom);
      }
    }
    function showVoi() {
      var voi = current.state.voi;
      voiOutput.textContent = voi ? "W " + Math.round(voi.width) + " · L " + Math.round(voi.centre) : "";
      if (presetSelect.options.length && !current.state.preset) { fillPresets(); }
    }
    function showFrame() {
      var config = current.config;
      var many = config.kind === "dicom" && config.frames > 1;
      frameBox.hidden = !many;
      if (!many) { return; }
      var frame = current.state.frame;
      frameInput.max = String(config.frames);
      frameInput.value = String(frame + 1);
      frameLabel.textContent = (frame + 1) + " / " + config.frames;
      var shown = frame === config.shownFrame;
      shownNote.textContent = shown ? "The model was shown this frame" : "The model was shown frame " + (config.shownFrame + 1);
      shownNote.classList.toggle("viewer-shown-now", shown);
      shownMarker.style.left = (100 * config.shownFrame / Math.max(1, config.frames - 1)) + "%";
    }
    function showTools() {
      var dicom = current.config.kind === "dicom";
      viewer.querySelector('[data-viewer-tools="dicom"]').hidden = !dicom;
      viewer.querySelector('[data-viewer-tools="image"]').hidden = dicom;
      invertButton.setAttribute("aria-pressed", String(!!current.state.invert));
      fillPresets();
      showVoi();
      showFrame();
    }
    function show(index) {
      current = items[index];
      items.forEach(function (item, i) { item.node.classList.toggle("hidden", i !== index); });
      viewer.querySelectorAll("[data-viewer-credit]").forEach(function (credit, i) { credit.hidden = i !== index; });
      viewer.querySelectorAll("[data-show-image]").forEach(function (tab) {
        tab.setAttribute("aria-selected", String(Number(tab.dataset.showImage) === index));
      });
      if (engine) { engine.resize(true, false); }
      if (current.osd) { current.osd.forceRedraw(); }
      showTools();
    }
    function reset(item) {
      if (item.viewport) {
        item.viewport.resetCamera();
        item.state.invert = !!item.defaultInvert;
        item.viewport.setProperties({ invert: item.state.invert });
        setFrame(item, item.config.shownFrame);
        applyPreset(item, 0);
        item.state.zoom = 1;
      } else if (item.osd) {
        item.osd.viewport.goHome();
      } else if (item.zoom) {
        item.zoom.reset();
      }
      filters.brightness = 100; filters.contrast = 100; applyFilters();
      viewer.querySelectorAll("[data-viewer-filter]").forEach(function (input) { input.value = 100; });
      showTools();
      record();
    }
    function zoomBy(factor) {
      if (current.viewport) { zoomDicom(current, factor); }
      else if (current.osd) { current.osd.viewport.zoomBy(factor); }
      else if (current.zoom) { if (factor > 1) { current.zoom.zoomIn(); } else { current.zoom.zoomOut(); } }
    }
    function windowBy(widthFactor, levelShift) {
      if (!current.viewport) { return; }
      readVoi(current);
      var voi = current.state.voi;
      if (!voi) { return; }
      setVoi(current, voi.centre + levelShift * voi.width, voi.width * widthFactor, null);
    }
    var actions = {
      "zoom-in": function () { zoomBy(1.25); },
      "zoom-out": function () { zoomBy(0.8); },
      "fit": function () {
        if (current.viewport) { current.viewport.resetCamera(); current.viewport.render(); current.state.zoom = 1; record(); }
        else if (current.osd) { current.osd.viewport.goHome(); }
        else if (current.zoom) { current.zoom.reset(); }
      },
      "reset": function () { reset(current); },
      "invert": function () {
        if (!current.viewport) { return; }
        current.state.invert = !current.state.invert;
        current.viewport.setProperties({ invert: current.state.invert });
        current.viewport.render();
        invertButton.setAttribute("aria-pressed", String(current.state.invert));
        record();
      },
      "next-preset": function () { if (current.viewport) { applyPreset(current, (current.state.presetIndex || 0) + 1); } },
      "narrower": function () { windowBy(0.8, 0); },
      "wider": function () { windowBy(1.25, 0); },
      "lower": function () { windowBy(1, -0.1); },
      "higher": function () { windowBy(1, 0.1); },
      "previous-frame": function () { setFrame(current, current.state.frame - 1); },
      "next-frame": function () { setFrame(current, current.state.frame + 1); },
      "shown-frame": function () { setFrame(current, current.config.shownFrame); },
      "fullscreen": function () {
        if (document.fullscreenElement) { document.exitFullscreen(); } else { viewer.requestFullscreen(); }
      }
    };
    var keys = { "[": "narrower", "]": "wider", "{": "lower", "}": "higher", "p": "next-preset", "i": "invert",
                 ",": "previous-frame", ".": "next-frame", "m": "shown-frame", "x": "reset" };

    viewer.addEventListener("click", function (event) {
      var button = event.target.closest("[data-viewer-action]");
      if (button) { actions[button.dataset.viewerAction](); }
      var tab = event.target.closest("[data-show-image]");
      if (tab) { show(Number(tab.dataset.showImage)); }
    });
    viewer.querySelectorAll("[data-viewer-filter]").forEach(function (input) {
      input.addEventListener("input", function () { filters[input.dataset.viewerFilter] = input.value; applyFilters(); });
    });
    presetSelect.addEventListener("change", function () {
      if (presetSelect.value !== "" && current.viewport) { applyPreset(current, Number(presetSelect.value)); }
    });
    frameInput.addEventListener("input", function () { setFrame(current, Number(frameInput.value) - 1); });
    stage.addEventListener("wheel", function (event) {
      if (current.zoom && !current.viewport && !current.osd) { current.zoom.zoomWithWheel(event); }
      else if (current.viewport) { event.preventDefault(); zoomDicom(current, event.deltaY < 0 ? 1.1 : 1 / 1.1); }
    }, { passive: false });
    document.addEventListener("keydown", function (event) {
      if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) { return; }
      var action = keys[event.key];
      if (action) { event.preventDefault(); actions[action](); }
    });

    items.forEach(function (item) {
      if (item.config.kind === "dicom" && item.index > 0 && items[0].config.kind === "dicom") {
        item.state.frame = item.config.shownFrame;  // recorded as it is until the image is set up
        firstView.then(function () { setupDicom(item); });
      } else if (item.config.kind === "dicom") { setupDicom(item); }
      else if (item.config.kind === "tiles") { setupTiles(item); }
      else { setupPlain(item); }
    });
    if (window.ResizeObserver) {  // full screen, or a resized pane: keep the DICOM canvas the stage's size
      new ResizeObserver(function () { if (engine) { engine.resize(true, true); } }).observe(stage);
    }
    viewer.viewerActions = actions;
    viewer.viewerScale = function () {
      if (current.viewport) { return current.viewport.getZoom(); }
      if (current.osd) { return current.osd.viewport.getZoom(); }
      return current.zoom ? current.zoom.getScale() : 1;
    };
    showTools();
    record();
  }
  // A deferred script runs once the document is parsed: start at once rather than after every other script's
  // DOMContentLoaded work (htmx processing the page among them), so the libraries begin drawing sooner.
  function start() { document.querySelectorAll("[data-viewer]").forEach(init); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
