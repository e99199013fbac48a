// The quiz form: ask before submitting with unanswered questions, and show progress.
// Without JavaScript the server asks instead (the form comes back naming the questions).
(function () {
  "use strict";
  var form = document.getElementById("quiz-form");
  if (!form) return;

  function confirmField() {
    if (!form.querySelector("input[type=hidden][name=confirm]")) {
      var hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = "confirm";
      hidden.value = "1";
      form.appendChild(hidden);
    }
  }

  form.addEventListener("submit", function (event) {
    if (form.dataset.sending) {
      event.preventDefault(); // already on its way: a second press sends nothing
      return;
    }
    var submitter = event.submitter;
    if (submitter && submitter.name === "save") return; // saves, does not submit: no question
    if (submitter && submitter.name === "confirm") {
      confirmField(); // a disabled button's own value is not sent
    } else {
      var missing = [];
      var questions = form.querySelectorAll("fieldset.question");
      for (var i = 0; i < questions.length; i++) {
        var typed = questions[i].querySelector("input[type=text]");
        var answered = typed ? typed.value.trim() !== "" : questions[i].querySelector("input:checked");
        if (!answered) missing.push(questions[i]);
      }
      if (missing.length) {
        var numbers = missing.map(function (q) { return q.dataset.number; }).join(", ");
        var ok = window.confirm(
          "You have not answered question" + (missing.length > 1 ? "s " : " ") + numbers +
          ". An unanswered question scores 0.\n\nSubmit anyway?"
        );
        if (!ok) {
          event.preventDefault();
          missing[0].scrollIntoView({ block: "center" });
          var first = missing[0].querySelector("input");
          if (first) first.focus({ preventScroll: true });
          return;
        }
        confirmField();
      }
    }
    form.dataset.sending = "1";
    var buttons = form.querySelectorAll("button[type=submit]");
    for (var j = 0; j < buttons.length; j++) {
      buttons[j].disabled = true;
      buttons[j].setAttribute("aria-busy", "true");
    }
    var pressed = submitter || buttons[0];
    if (pressed) {
      pressed.dataset.label = pressed.textContent;
      pressed.textContent = pressed.dataset.busyText || "Submitting…";
    }
  });

  // Back from the result page (bfcache): the form is usable again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    delete form.dataset.sending;
    var buttons = form.querySelectorAll("button[type=submit]");
    for (var j = 0; j < buttons.length; j++) {
      buttons[j].disabled = false;
      buttons[j].removeAttribute("aria-busy");
      if (buttons[j].dataset.label) buttons[j].textContent = buttons[j].dataset.label;
    }
  });
})();
