// The image / patient profile tabs of the workspace and adjudication pages. On a wide screen both panels show and
// the tabs are hidden (CSS); on a narrow one the selected panel gets the whole column.
(function () {
  "use strict";
  function init(container) {
    // Only the panes' own tabs: the image viewer's thumbnails inside a panel are tabs of their own.
    var tabs = Array.prototype.slice.call(container.querySelectorAll(':scope > .ws-tabs > [role="tab"]'));
    function select(tab, focus) {
      tabs.forEach(function (other) {
        var selected = other === tab;
        other.setAttribute("aria-selected", String(selected));
        other.tabIndex = selected ? 0 : -1;
        document.getElementById(other.getAttribute("aria-controls")).classList.toggle("ws-panel-hidden", !selected);
      });
      if (focus) { tab.focus(); }
    }
    tabs.forEach(function (tab, index) {
      tab.addEventListener("click", function () { select(tab, false); });
      tab.addEventListener("keydown", function (event) {
        var step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
        if (!step) { return; }
        event.preventDefault();
        event.stopPropagation();
        select(tabs[(index + step + tabs.length) % tabs.length], true);
      });
    });
    container.classList.add("ws-tabbed");
    select(tabs[0], false);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-tabs]").forEach(init);
  });
})();
