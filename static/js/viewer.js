// Image viewer: zoom, pan, fit, reset, brightness/contrast, full screen, several images per case (@panzoom/panzoom).
(function () {
  "use strict";
  function init(viewer) {
    var stage = viewer.querySelector(".viewer-stage");
    var images = Array.prototype.slice.call(viewer.querySelectorAll(".viewer-image"));
    var filters = { brightness: 100, contrast: 100 };
    var zooms = images.map(function (image) {
      return window.Panzoom(image, { maxScale: 12, minScale: 0.5, step: 0.3, canvas: true });
    });
    var current = 0;
    stage.addEventListener("wheel", function (event) { zooms[current].zoomWithWheel(event); });

    function applyFilters() {
      images.forEach(function (image) {
        image.style.filter = "brightness(" + filters.brightness + "%) contrast(" + filters.contrast + "%)";
      });
    }
    function show(index) {
      current = index;
      images.forEach(function (image, i) { image.classList.toggle("hidden", i !== index); });
      viewer.querySelectorAll("[data-show-image]").forEach(function (tab) {
        tab.setAttribute("aria-selected", String(Number(tab.dataset.showImage) === index));
      });
    }
    var actions = {
      "zoom-in": function () { zooms[current].zoomIn(); },
      "zoom-out": function () { zooms[current].zoomOut(); },
      "fit": function () { zooms[current].reset(); },
      "reset": function () {
        zooms[current].reset();
        filters.brightness = 100; filters.contrast = 100; applyFilters();
        viewer.querySelectorAll("[data-viewer-filter]").forEach(function (input) { input.value = 100; });
      },
      "fullscreen": function () {
        if (document.fullscreenElement) { document.exitFullscreen(); } else { viewer.requestFullscreen(); }
      }
    };
    viewer.addEventListener("click", function (event) {
      var button = event.target.closest("[data-viewer-action]");
      if (button) { actions[button.dataset.viewerAction](); }
      var tab = event.target.closest("[data-show-image]");
      if (tab) { show(Number(tab.dataset.showImage)); }
    });
    viewer.querySelectorAll("[data-viewer-filter]").forEach(function (input) {
      input.addEventListener("input", function () { filters[input.dataset.viewerFilter] = input.value; applyFilters(); });
    });
    viewer.viewerActions = actions;
    viewer.viewerScale = function () { return zooms[current].getScale(); };
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-viewer]").forEach(init);
  });
})();
