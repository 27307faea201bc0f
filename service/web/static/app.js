// Copy-citation buttons: navigator.clipboard when available, a hidden textarea otherwise.
(function () {
  "use strict";

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copie impossible"));
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () {
        return fallbackCopy(text);
      });
    }
    return fallbackCopy(text);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.copy");
    if (!button) {
      return;
    }
    var note = button.parentNode.querySelector(".copied");
    copy(button.getAttribute("data-citation")).then(
      function () {
        if (note) { note.textContent = "Citation copiée."; }
      },
      function () {
        if (note) { note.textContent = "Copie impossible : sélectionnez le texte de la citation."; }
      }
    );
  });
})();

// The matrix page's print button (inline handlers are refused by the Content-Security-Policy).
document.addEventListener("click", function (event) {
  "use strict";
  if (event.target.closest("button.print")) {
    window.print();
  }
});
