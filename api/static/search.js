// The lists' search: on a phone the filters fold away when none is in use, so that the
// results come first (the page works without this script: the filters are simply open).
(function () {
  "use strict";
  if (!window.matchMedia("(max-width: 700px)").matches) {
    return;
  }
  document.querySelectorAll("details.filter-box[data-idle]").forEach(function (box) {
    box.open = false;
  });
})();
