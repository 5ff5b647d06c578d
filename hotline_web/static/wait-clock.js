// The dispatch queue's waiting clocks: each ".wait-clock" shows how long its ticket has waited for a
// person: data-waited seconds when the page was made, plus the time since, in the page's own words
// (data-minutes / data-hours, in the reader's language).
(function () {
  var loaded = Date.now();
  function tick() {
    document.querySelectorAll(".wait-clock[data-waited]").forEach(function (el) {
      var waited = parseInt(el.dataset.waited, 10);
      if (isNaN(waited)) { return; }
      var minutes = Math.max(0, Math.floor((waited * 1000 + Date.now() - loaded) / 60000));
      el.textContent = minutes >= 60
        ? el.dataset.hours.replace("{h}", Math.floor(minutes / 60)).replace("{m}", minutes % 60)
        : el.dataset.minutes.replace("{m}", minutes);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { tick(); setInterval(tick, 15000); });
})();
