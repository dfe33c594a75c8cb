/* The analytics page's exports: each export still waiting or running asks the app for
 * its state every second and shows its progress, then its download link when it is
 * ready (or its error). No third-party code. */
(function () {
  "use strict";

  var table = document.getElementById("exports");
  if (!table) return;
  var every = Number(table.dataset.poll) || 1000;
  var pending = ["QUEUED", "RUNNING"];

  function draw(row, data) {
    row.dataset.status = data.status;
    row.querySelector(".export-status").textContent = data.status_label;
    row.querySelector("progress").value = data.progress;
    row.querySelector(".export-percent").textContent = data.progress + " %";
    var result = row.querySelector(".export-result");
    if (data.download_url) {
      result.textContent = "";
      var link = document.createElement("a");
      link.href = data.download_url;
      link.className = "export-download";
      link.textContent = table.dataset.downloadLabel;
      result.appendChild(link);
      if (data.result && data.result.messages !== undefined) {
        var meta = document.createElement("span");
        meta.className = "sub";
        meta.textContent = " " + table.dataset.countsLabel
          .replace("{conversations}", data.result.conversations)
          .replace("{messages}", data.result.messages);
        result.appendChild(meta);
      }
    } else if (data.error) {
      result.textContent = data.error;
      result.className = "export-result errornote";
    }
  }

  function watch(row) {
    fetch(row.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) throw new Error(r.status);
        return r.json();
      })
      .then(function (data) {
        draw(row, data);
        if (pending.indexOf(data.status) >= 0) setTimeout(function () { watch(row); }, every);
      })
      .catch(function () {
        setTimeout(function () { watch(row); }, every * 3);
      });
  }

  Array.prototype.forEach.call(table.querySelectorAll("tr[data-url]"), function (row) {
    if (pending.indexOf(row.dataset.status) >= 0) watch(row);
  });
})();
