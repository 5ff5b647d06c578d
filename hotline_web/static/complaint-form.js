// The complaint form (no inline script: the CSP forbids it).
// * One tap, one ticket: once sent, the button is disabled and says it is sending; the server
//   also makes one ticket per form token, whatever the browser does.
// * Ticking "anonymous" after typing a phone number says what happens to the number.
(function () {
  var form = document.querySelector("form[data-once]");
  if (!form) return;
  var button = form.querySelector("button[type=submit]");
  form.addEventListener("submit", function (event) {
    if (form.dataset.sent) { event.preventDefault(); return; }
    form.dataset.sent = "1";
    if (button) {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      button.dataset.label = button.textContent;
      if (button.dataset.sending) button.textContent = button.dataset.sending;
    }
  });
  // Back to a form kept by the browser (bfcache): it can be sent again, and the token makes it the same ticket.
  window.addEventListener("pageshow", function () {
    delete form.dataset.sent;
    if (button) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      if (button.dataset.label) button.textContent = button.dataset.label;
    }
  });
  var anonymous = form.querySelector("#anonymous"), phone = form.querySelector("#phone");
  var note = document.getElementById("anonymous-note");
  if (!anonymous || !phone || !note) return;
  var update = function () { note.hidden = !(anonymous.checked && phone.value.trim()); };
  anonymous.addEventListener("change", update);
  phone.addEventListener("input", update);
  update();
})();
