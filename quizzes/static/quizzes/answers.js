// Answers saved as the student goes, and a timed attempt's countdown (issue 20).
// Without JavaScript the page still shows the time left as of loading, and the "Save
// answers" button saves; the server decides the deadline either way.
(function () {
  "use strict";
  var form = document.getElementById("quiz-form");
  if (!form) return;
  var saveButton = form.querySelector("button[name=save]");
  var saveUrl = saveButton ? saveButton.getAttribute("formaction") : null;
  var status = document.getElementById("save-status");
  var timeUp = false;
  var inFlight = false;
  var again = false;
  var typingTimer = null;

  function say(text) {
    if (status) status.textContent = text;
  }

  function leaveFor(url) {
    timeUp = true;
    form.dataset.sending = "1";
    window.location.assign(url);
  }

  // --- saving on each change (fetch POST; the CSRF token travels in the form data) ---------
  function save() {
    if (!saveUrl || timeUp || form.dataset.sending) return;
    if (inFlight) {
      again = true; // one more save after this one, with the answers as they are then
      return;
    }
    inFlight = true;
    say("Saving…");
    fetch(saveUrl, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (type.indexOf("application/json") === -1) {
          // Not the save's answer: the login page (logged out meanwhile) or an error page.
          throw new Error(response.redirected ? "logged out" : "error " + response.status);
        }
        return response.json();
      })
      .then(function (reply) {
        if (reply.url) {
          leaveFor(reply.url); // submitted, or the time was up: the result page says which
        } else {
          say(reply.message || "Not saved.");
        }
      })
      .catch(function (error) {
        var why = error && error.message;
        if (why === "logged out") {
          say("Not saved: you are no longer logged in. Log in again in another tab, then change an answer here to save them; your answers are still on this page.");
        } else if (why && why.indexOf("error ") === 0) {
          say("Not saved: the site could not save them (" + why + "). Your answers are still on this page; they are saved at the next change.");
        } else {
          say("Not saved: no connection. Your answers are still on this page; they are saved at the next change.");
        }
      })
      .then(function () {
        inFlight = false;
        if (again) {
          again = false;
          save();
        }
      });
  }

  form.addEventListener("change", save);
  form.addEventListener("input", function (event) {
    if (event.target.type !== "text") return; // choices save on "change"
    window.clearTimeout(typingTimer);
    typingTimer = window.setTimeout(save, 1500);
  });

  // --- the countdown ------------------------------------------------------------------------
  var box = document.getElementById("time-left");
  if (!box) return;
  var value = document.getElementById("time-left-value");
  var note = document.getElementById("time-left-note");
  var warnSeconds = parseInt(box.dataset.warnSeconds, 10);
  // From the server's seconds left, not its clock time: the computer's clock may be wrong.
  var end = Date.now() + parseInt(box.dataset.secondsLeft, 10) * 1000;

  function clock(seconds) {
    var h = Math.floor(seconds / 3600);
    var m = Math.floor((seconds % 3600) / 60);
    var s = seconds % 60;
    var mm = h ? (m < 10 ? "0" : "") + m : String(m);
    return (h ? h + ":" : "") + mm + ":" + (s < 10 ? "0" : "") + s;
  }

  function submitNow() {
    if (form.dataset.sending) return;
    timeUp = true;
    var confirm = document.createElement("input"); // no "unanswered?" question now
    confirm.type = "hidden";
    confirm.name = "confirm";
    confirm.value = "1";
    form.appendChild(confirm);
    form.dataset.sending = "1";
    say("The time is up: submitting your answers…");
    form.submit(); // not requestSubmit(): no submit handler may stop it
  }

  function tick() {
    var left = Math.max(0, Math.ceil((end - Date.now()) / 1000));
    value.textContent = clock(left);
    if (left <= warnSeconds && !box.classList.contains("warning")) {
      box.classList.add("warning");
      note.innerHTML = "";
      var strong = document.createElement("strong");
      strong.textContent = "Almost out of time: " + clock(left) + " left. ";
      note.appendChild(strong);
      note.appendChild(document.createTextNode("At 0:00 your answers are submitted."));
    }
    if (left <= 0) {
      submitNow();
      return;
    }
    window.setTimeout(tick, 250);
  }
  tick();
})();
