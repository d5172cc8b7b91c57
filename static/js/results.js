// The results pages' progress state: if the request computing the report fails, say so instead of spinning on.
document.addEventListener("htmx:responseError", (event) => {
  const pending = event.target.closest ? event.target.closest(".results-pending") : null;
  if (!pending) return;
  pending.removeAttribute("aria-busy");
  pending.querySelector(".computing").hidden = true;
  pending.querySelector(".computing-error").hidden = false;
});
