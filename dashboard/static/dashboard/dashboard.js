/* Queue behaviour on top of htmx (vendor/htmx.min.js). */
(function () {
  "use strict";

  // The 30-second refresh replaces the table: never while a nurse is typing a resolution
  // or has a resolve form open, or the note would be lost under her cursor.
  window.dashboardQueueIdle = function () {
    var queue = document.getElementById("queue");
    if (!queue) { return true; }
    if (queue.querySelector("details[open]")) { return false; }
    var active = document.activeElement;
    return !(active && queue.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName));
  };

  // A refused or failed request would otherwise fail silently: say so in the page.
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    var text = status === 403 ? "Your session has ended or this is not allowed: sign in again."
      : "The server could not do this (" + status + "). Reload the page and try again.";
    showMessage(text);
  });
  document.addEventListener("htmx:sendError", function () {
    showMessage("No connection to the server. The queue will retry on the next refresh.");
  });

  function showMessage(text) {
    var main = document.getElementById("main");
    if (!main) { return; }
    var box = document.getElementById("js-message");
    if (!box) {
      box = document.createElement("p");
      box.id = "js-message";
      box.className = "message message-error";
      box.setAttribute("role", "alert");
      main.insertBefore(box, main.firstChild);
    }
    box.textContent = text;
  }
})();
