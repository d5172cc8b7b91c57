// Clinician workspace: keyboard-first scoring, autosave status, a last save when the page is left, active time on
// task, turn navigation and flags, inline rationale rule, help overlay.
(function () {
  "use strict";
  var IDLE_AFTER_MS = 60000;

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("annotation-form");
    if (!form) { return; }
    var autosave = document.querySelector(".workspace").dataset.autosave === "on";
    var writable = Boolean(document.querySelector("[data-submit]"));
    if (autosave) { document.querySelector(".workspace").classList.add("autosaving"); }
    var dimensions = Array.prototype.slice.call(form.querySelectorAll("fieldset.dimension"));
    var turns = Array.prototype.slice.call(document.querySelectorAll(".transcript .turn"));
    var help = document.getElementById("help-overlay");
    var viewer = document.querySelector("[data-viewer]");
    var rationale = document.getElementById("rationale");
    var rule = document.getElementById("rationale-rule");
    var announce = document.getElementById("turn-announce");
    var versionInput = document.getElementById("version");
    var submitButton = document.querySelector("[data-submit]");
    var status = function () { return document.getElementById("save-status"); };
    var focused = 0;
    var currentTurn = 0;

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

    // Unsaved edits: `edits` counts changes, `savedEdits` the count the last successful save carried.
    var edits = 0;
    var savedEdits = 0;
    var inFlight = 0;
    var submitting = false;
    function unsaved() { return writable && edits !== savedEdits; }
    function setVersion(value) {
      if (Number(value) > Number(versionInput.value)) { versionInput.value = value; }
    }
    form.addEventListener("input", function () { edits += 1; });
    form.addEventListener("change", function () { edits += 1; });

    document.body.addEventListener("htmx:configRequest", function (event) {
      if (event.detail.elt !== form) { return; }
      if (submitting) { event.preventDefault(); return; }  // the form's own POST carries everything
      event.detail.parameters.active_seconds = takeActiveSeconds();
      event.detail.parameters.version = versionInput.value;
      event.detail.elt.dataset.sentEdits = edits;
      inFlight += 1;
      var node = status();
      node.className = "save-status saving";
      node.textContent = "Saving…";
    });
    document.body.addEventListener("htmx:afterRequest", function (event) {
      if (event.detail.elt !== form) { return; }
      inFlight = Math.max(0, inFlight - 1);
      var xhr = event.detail.xhr;
      if (xhr && xhr.status === 200) { savedEdits = Math.max(savedEdits, Number(form.dataset.sentEdits || 0)); }
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
      if (xhr.status === 200 && saved) { setVersion(saved); }
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

    // Leaving the page (reload, close, another tab): send what the debounced autosave has not sent yet. The CSRF
    // token travels in the form body, as it does for the plain form. A save still in flight will make the next
    // version, so the beacon names the one after it; the page then expects the version the beacon makes.
    function saveOnLeave() {
      if (!autosave || !unsaved() || submitting || !navigator.sendBeacon) { return; }
      var data = new FormData(form);
      var version = Number(versionInput.value) + inFlight;
      data.set("version", String(version));
      data.set("active_seconds", String(takeActiveSeconds()));
      data.set("action", "save");
      data.set("transport", "beacon");
      if (navigator.sendBeacon(form.getAttribute("action"), data)) {
        savedEdits = edits;
        setVersion(version + 1);
        try { sessionStorage.setItem(beaconKey, JSON.stringify({ version: version + 1, tries: 0 })); } catch (e) { /* private mode */ }
      }
    }
    // A reload can be answered before the beacon's save lands: the page then shows the older draft. It knows from
    // the version the beacon was to make, and asks again (a few times) until the server has it.
    var beaconKey = "imcbench-beacon:" + form.getAttribute("action");
    function awaitBeacon() {
      var pending = null;
      try { pending = JSON.parse(sessionStorage.getItem(beaconKey) || "null"); } catch (e) { return; }
      if (!pending) { return; }
      if (Number(versionInput.value) >= pending.version || pending.tries >= 4) {
        sessionStorage.removeItem(beaconKey);
        return;
      }
      pending.tries += 1;
      sessionStorage.setItem(beaconKey, JSON.stringify(pending));
      var node = status();
      node.className = "save-status saving";
      node.textContent = "Loading your last change…";
      setTimeout(function () { window.location.reload(); }, 200 * pending.tries);
    }
    if (autosave) { awaitBeacon(); }
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") { saveOnLeave(); }
    });
    window.addEventListener("pagehide", saveOnLeave);
    window.addEventListener("beforeunload", function (event) {
      if (unsaved() && !submitting) { event.preventDefault(); event.returnValue = ""; }
    });

    // The rationale rule, checked as it becomes true: a score at or below the threshold needs a rationale.
    var threshold = Number(form.dataset.rationaleAtOrBelow || 0);
    function rationaleMissing() {
      if (!threshold || !rationale || rationale.value.trim()) { return false; }
      return dimensions.some(function (fieldset) {
        var checked = fieldset.querySelector("input:checked");
        return checked && Number(checked.value) <= threshold;
      });
    }
    function checkRationale() {
      if (!rule) { return false; }
      var missing = rationaleMissing();
      rule.classList.toggle("invalid", missing);
      rule.textContent = missing ? rule.dataset.error : rule.dataset.hint;
      if (missing) { rationale.setAttribute("aria-invalid", "true"); } else { rationale.removeAttribute("aria-invalid"); }
      return missing;
    }
    form.addEventListener("change", checkRationale);
    if (rationale) { rationale.addEventListener("input", checkRationale); }
    checkRationale();

    // Scores: the focused dimension is highlighted; radios update its displayed score.
    function focusDimension(index) {
      focused = Math.max(0, Math.min(dimensions.length - 1, index));
      dimensions.forEach(function (fieldset, i) { fieldset.classList.toggle("focused", i === focused); });
      dimensions[focused].focus({ preventScroll: true });
      dimensions[focused].scrollIntoView({ block: "nearest" });
    }
    function firstUnscored() {
      for (var i = 0; i < dimensions.length; i += 1) {
        if (!dimensions[i].querySelector("input:checked")) { return i; }
      }
      return -1;
    }
    dimensions.forEach(function (fieldset, index) {
      fieldset.addEventListener("focusin", function () {
        if (focused !== index) { focusDimension(index); }
      });
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

    // Submit: say inline what is missing instead of sending an incomplete annotation.
    if (submitButton) {
      submitButton.addEventListener("click", function (event) {
        var missing = firstUnscored();
        if (missing >= 0) {
          event.preventDefault();
          focusDimension(missing);
          say("Score " + dimensions[missing].querySelector(".dim-name").textContent + " before submitting.");
        } else if (checkRationale()) {
          event.preventDefault();
          rationale.focus();
        }
      });
    }

    // Turns: a current turn moved by n / p, flagged with x; flagged turns are marked in the transcript.
    var list = document.getElementById("flag-list");
    var template = document.getElementById("flag-row-template");
    function say(text) { if (announce) { announce.textContent = text; } }
    function flaggedTurns() {
      var numbers = {};
      if (!list) { return numbers; }
      list.querySelectorAll(".flag-turn-input").forEach(function (input) { numbers[input.value] = true; });
      return numbers;
    }
    function markFlags() {
      var flagged = flaggedTurns();
      turns.forEach(function (turn) {
        var on = Boolean(flagged[turn.dataset.turn]);
        turn.classList.toggle("flagged", on);
        turn.querySelector(".flag-mark").hidden = !on;
        var button = turn.querySelector("[data-flag-turn]");
        if (button) { button.setAttribute("aria-pressed", String(on)); }
      });
    }
    function goToTurn(number) {
      if (!turns.length) { return; }
      currentTurn = Math.max(1, Math.min(turns.length, number));
      turns.forEach(function (turn, i) {
        var on = i === currentTurn - 1;
        turn.classList.toggle("current", on);
        if (on) { turn.setAttribute("aria-current", "true"); } else { turn.removeAttribute("aria-current"); }
      });
      var turn = turns[currentTurn - 1];
      turn.scrollIntoView({ block: "nearest" });
      say("Turn " + currentTurn + " of " + turns.length + ", " + turn.dataset.role +
        (flaggedTurns()[String(currentTurn)] ? ", flagged" : ""));
    }
    function addFlag(turn, focusNote) {
      var row = template.content.firstElementChild.cloneNode(true);
      if (turn) { row.querySelector(".flag-turn-input").value = turn; }
      list.appendChild(row);
      if (focusNote) { row.querySelector(turn ? ".flag-note" : ".flag-turn-input").focus(); }
      markFlags();
      form.dispatchEvent(new Event("change", { bubbles: true }));
    }
    function toggleFlag(turn, focusNote) {
      if (!template) { return; }
      var rows = Array.prototype.filter.call(list.querySelectorAll(".flag-row"), function (row) {
        return row.querySelector(".flag-turn-input").value === String(turn);
      });
      if (rows.length) {
        rows.forEach(function (row) { row.remove(); });
        markFlags();
        form.dispatchEvent(new Event("change", { bubbles: true }));
        say("Turn " + turn + ": flag removed");
      } else {
        addFlag(String(turn), focusNote);
        say("Turn " + turn + " flagged; choose its kind and add a note under Turn flags");
      }
    }
    if (list) { list.addEventListener("input", markFlags); }
    document.addEventListener("click", function (event) {
      var flagTurn = event.target.closest("[data-flag-turn]");
      if (flagTurn) { goToTurn(Number(flagTurn.dataset.flagTurn)); toggleFlag(flagTurn.dataset.flagTurn, true); }
      if (event.target.closest("[data-add-flag]")) { addFlag(null, true); }
      var remove = event.target.closest("[data-remove-flag]");
      if (remove) { remove.closest(".flag-row").remove(); markFlags(); form.dispatchEvent(new Event("change", { bubbles: true })); }
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
        if (submitButton) { submitButton.click(); }
        return;
      }
      if (event.key === "Escape") {
        if (!help.hidden) { toggleHelp(false); } else if (typing(event.target)) { event.target.blur(); focusDimension(focused); }
        return;
      }
      if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) { return; }
      if (event.target.closest('[role="tab"]') && /^Arrow/.test(event.key)) { return; }
      if (/^[1-5]$/.test(event.key)) { event.preventDefault(); score(event.key); }
      else if (event.key === "j" || event.key === "ArrowDown") { event.preventDefault(); focusDimension(focused + 1); }
      else if (event.key === "k" || event.key === "ArrowUp") { event.preventDefault(); focusDimension(focused - 1); }
      else if (event.key === "n") { event.preventDefault(); goToTurn(currentTurn + 1); }
      else if (event.key === "p") { event.preventDefault(); goToTurn(currentTurn - 1); }
      else if (event.key === "x" && currentTurn) { event.preventDefault(); toggleFlag(currentTurn, false); }
      else if (event.key === "r" && rationale && !rationale.disabled) { event.preventDefault(); rationale.focus(); }
      else if (event.key === "?") { event.preventDefault(); toggleHelp(help.hidden); }
      else if (viewer && viewer.viewerActions) {
        var action = { "+": "zoom-in", "=": "zoom-in", "-": "zoom-out", "0": "fit", "f": "fullscreen" }[event.key];
        if (action) { event.preventDefault(); viewer.viewerActions[action](); }
      }
    });
    markFlags();
    if (dimensions.length) { focusDimension(Math.max(0, firstUnscored())); }
  });
})();
