// Clinician workspace: keyboard-first scoring, autosave status, active time on task, turn flags, help overlay.
(function () {
  "use strict";
  var IDLE_AFTER_MS = 60000;

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("annotation-form");
    if (!form) { return; }
    var dimensions = Array.prototype.slice.call(form.querySelectorAll("fieldset.dimension"));
    var help = document.getElementById("help-overlay");
    var viewer = document.querySelector("[data-viewer]");
    var status = function () { return document.getElementById("save-status"); };
    var focused = 0;

    // Active time: seconds the tab was visible and used (input within the last minute), sent with each save.
    var lastActivity = Date.now();
    var activeMs = 0;
    var tick = Date.now();
    ["keydown", "mousemove", "mousedown", "wheel", "touchstart"].forEach(function (name) {
      document.addEventListener(name, function () { lastActivity = Date.now(); }, { passive: true });
    });
    setInterval(function () {
      var now = Date.now();
      if (document.visibilityState === "visible" && now - lastActivity < IDLE_AFTER_MS) { activeMs += now - tick; }
      tick = now;
    }, 1000);
    function takeActiveSeconds() {
      var seconds = Math.round(activeMs / 1000);
      activeMs -= seconds * 1000;
      return seconds;
    }
    var submitting = false;
    document.body.addEventListener("htmx:configRequest", function (event) {
      if (event.detail.elt !== form) { return; }
      if (submitting) { event.preventDefault(); return; }  // the form's own POST carries everything
      event.detail.parameters.active_seconds = takeActiveSeconds();
      event.detail.parameters.version = document.getElementById("version").value;
      var node = status();
      node.className = "save-status saving";
      node.textContent = "Saving…";
    });
    form.addEventListener("submit", function () {
      submitting = true;
      document.getElementById("active-seconds").value = takeActiveSeconds();
    });
    // 409 (edited elsewhere) and 422 (invalid) carry a message to show: let htmx swap them in.
    document.body.addEventListener("htmx:beforeSwap", function (event) {
      var xhr = event.detail.xhr;
      if (xhr.status === 409 || xhr.status === 422) {
        event.detail.shouldSwap = true;
        event.detail.isError = false;
      }
      var saved = xhr.getResponseHeader("X-Annotation-Version");
      if (xhr.status === 200 && saved) { document.getElementById("version").value = saved; }
    });
    function showUnsaved() {
      var node = status();
      node.className = "save-status error";
      node.innerHTML = "";
      var strong = document.createElement("strong");
      strong.textContent = "Not saved";
      node.appendChild(strong);
      node.appendChild(document.createTextNode(" — the server could not be reached. "));
      var retry = document.createElement("button");
      retry.type = "button";
      retry.dataset.retrySave = "";
      retry.textContent = "Retry";
      node.appendChild(retry);
    }
    document.body.addEventListener("htmx:sendError", showUnsaved);
    document.body.addEventListener("htmx:responseError", showUnsaved);
    document.addEventListener("click", function (event) {
      if (event.target.closest("[data-retry-save]")) { window.htmx.trigger(form, "change"); }
    });

    // Scores: the focused dimension is highlighted; radios update its displayed score.
    function focusDimension(index) {
      focused = Math.max(0, Math.min(dimensions.length - 1, index));
      dimensions.forEach(function (fieldset, i) { fieldset.classList.toggle("focused", i === focused); });
      dimensions[focused].focus({ preventScroll: false });
    }
    dimensions.forEach(function (fieldset, index) {
      fieldset.addEventListener("focusin", function () { focused = index; focusDimension(index); });
      fieldset.addEventListener("change", function () {
        var checked = fieldset.querySelector("input:checked");
        fieldset.querySelector(".dim-score").textContent = checked ? checked.value : "–";
      });
    });
    function score(value) {
      var radio = dimensions[focused].querySelector('input[value="' + value + '"]');
      if (!radio || radio.disabled) { return; }
      radio.checked = true;
      radio.dispatchEvent(new Event("change", { bubbles: true }));
      if (focused < dimensions.length - 1) { focusDimension(focused + 1); }
    }

    // Flags: add a row (optionally for a turn), remove a row; both autosave.
    var list = document.getElementById("flag-list");
    var template = document.getElementById("flag-row-template");
    function addFlag(turn) {
      var row = template.content.firstElementChild.cloneNode(true);
      if (turn) { row.querySelector(".flag-turn-input").value = turn; }
      list.appendChild(row);
      row.querySelector(turn ? ".flag-note" : ".flag-turn-input").focus();
      form.dispatchEvent(new Event("change", { bubbles: true }));
    }
    document.addEventListener("click", function (event) {
      var flagTurn = event.target.closest("[data-flag-turn]");
      if (flagTurn) { addFlag(flagTurn.dataset.flagTurn); }
      if (event.target.closest("[data-add-flag]")) { addFlag(null); }
      var remove = event.target.closest("[data-remove-flag]");
      if (remove) { remove.closest(".flag-row").remove(); form.dispatchEvent(new Event("change", { bubbles: true })); }
      if (event.target.closest("[data-help-open]")) { toggleHelp(true); }
      if (event.target.closest("[data-help-close]")) { toggleHelp(false); }
    });

    function toggleHelp(open) {
      help.hidden = !open;
      if (open) { help.querySelector("[data-help-close]").focus(); } else { focusDimension(focused); }
    }
    function typing(target) {
      return target.closest("textarea, select, [contenteditable]") ||
        (target.tagName === "INPUT" && !/^(radio|checkbox|button|submit|range)$/.test(target.type));
    }
    document.addEventListener("keydown", function (event) {
      if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
        event.preventDefault();
        form.querySelector("[data-submit]").click();
        return;
      }
      if (event.key === "Escape") {
        if (!help.hidden) { toggleHelp(false); } else if (typing(event.target)) { event.target.blur(); focusDimension(focused); }
        return;
      }
      if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) { return; }
      if (/^[1-5]$/.test(event.key)) { event.preventDefault(); score(event.key); }
      else if (event.key === "j" || event.key === "ArrowDown") { event.preventDefault(); focusDimension(focused + 1); }
      else if (event.key === "k" || event.key === "ArrowUp") { event.preventDefault(); focusDimension(focused - 1); }
      else if (event.key === "r") { event.preventDefault(); document.getElementById("rationale").focus(); }
      else if (event.key === "?") { event.preventDefault(); toggleHelp(help.hidden); }
      else if (viewer && viewer.viewerActions) {
        var action = { "+": "zoom-in", "=": "zoom-in", "-": "zoom-out", "0": "fit", "f": "fullscreen" }[event.key];
        if (action) { event.preventDefault(); viewer.viewerActions[action](); }
      }
    });
    if (dimensions.length) { focusDimension(0); }
  });
})();
