/* The back-office inbox: polls the app's JSON endpoints and redraws the list or the
 * transcript in place (no page reload, no third-party code). Customer text is always
 * inserted as text, never as HTML. */
(function () {
  "use strict";

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function waited(seconds) {
    if (seconds === null || seconds === undefined) return "";
    if (seconds < 60) return seconds + " s";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min";
    return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min";
  }

  function clock(iso) {
    return iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
  }

  // The customer's ratings of a conversation's answers: "👍 2 · 👎 1", and the latest
  // rating's comment under it.
  function ratings(feedback) {
    var td = el("td", "feedback");
    if (!feedback || (!feedback.up && !feedback.down)) return td;
    var counts = [];
    if (feedback.up) counts.push("👍 " + feedback.up);
    if (feedback.down) counts.push("👎 " + feedback.down);
    td.appendChild(el("span", feedback.down ? "rated rated-down" : "rated rated-up", counts.join(" · ")));
    var latest = feedback.latest;
    if (latest && latest.comment) {
      td.appendChild(el("div", "meta", (latest.value === "down" ? "👎 " : "👍 ") + "“" + latest.comment + "”"));
    }
    return td;
  }

  function poll(url, every, draw, status) {
    function tick() {
      fetch(url(), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) {
          if (!r.ok) throw new Error(r.status);
          return r.json();
        })
        .then(function (data) {
          draw(data);
          if (status) status.textContent = "";
        })
        .catch(function () {
          if (status) status.textContent = "…";
        })
        .finally(function () {
          setTimeout(tick, every);
        });
    }
    tick();
  }

  function inbox(root) {
    var form = document.getElementById("inbox-filters");
    var rows = document.getElementById("inbox-rows");
    var empty = document.getElementById("inbox-empty").innerHTML;
    var status = document.getElementById("inbox-status");
    function url() {
      var params = new URLSearchParams(new FormData(form));
      return root.dataset.url + "?" + params.toString();
    }
    function draw(data) {
      rows.textContent = "";
      if (!data.conversations.length) {
        var tr = el("tr");
        var td = el("td", null, empty.trim());
        td.colSpan = 8;
        tr.appendChild(td);
        rows.appendChild(tr);
        return;
      }
      data.conversations.forEach(function (c) {
        var tr = el("tr");
        tr.dataset.id = c.id;
        var who = el("td");
        var link = el("a", null, c.customer);
        link.href = c.url;
        who.appendChild(link);
        tr.appendChild(who);
        var st = el("td");
        st.appendChild(el("span", "state state-" + c.state, c.state_label));
        if (c.reason) st.appendChild(el("div", "meta", c.reason));
        tr.appendChild(st);
        tr.appendChild(el("td", null, c.channel));
        tr.appendChild(el("td", null, c.last_message));
        tr.appendChild(el("td", null, waited(c.waiting_seconds)));
        var unread = el("td");
        if (c.unread) unread.appendChild(el("span", "unread", String(c.unread)));
        tr.appendChild(unread);
        tr.appendChild(ratings(c.feedback));
        tr.appendChild(el("td", null, c.assigned_to));
        rows.appendChild(tr);
      });
    }
    form.addEventListener("change", function () {
      fetch(url(), { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(draw);
    });
    poll(url, Number(root.dataset.poll) || 2000, draw, status);
  }

  function conversation(root) {
    var transcript = document.getElementById("transcript");
    var events = document.getElementById("conv-events");
    var shown = "";
    function draw(data) {
      document.getElementById("conv-state").textContent = data.state_label;
      document.getElementById("conv-state").className = "state state-" + data.state;
      document.getElementById("conv-assigned").textContent = data.assigned_to || "—";
      document.getElementById("conv-reason").textContent = data.reason || "—";
      var key = JSON.stringify([data.messages, data.events]);
      if (key === shown) return;
      shown = key;
      transcript.textContent = "";
      data.messages.forEach(function (m) {
        m.bubbles.forEach(function (text) {
          transcript.appendChild(el("div", "bubble from-" + m.who, text));
        });
        var side = m.who === "customer" ? "meta" : "meta right";
        var label = (m.who === "staff" ? m.author : m.who) + " · " + clock(m.at);
        if (m.delivery && m.delivery.status && m.delivery.status !== "sent" && m.delivery.status !== "stored") {
          label += " · " + m.delivery.status + (m.delivery.reason ? " (" + m.delivery.reason + ")" : "");
        }
        transcript.appendChild(el("div", side + (m.delivery && m.delivery.reason ? " warn" : ""), label));
        if (m.handoff) transcript.appendChild(el("div", "meta right", "handoff: " + m.handoff));
        if (m.rating) {
          var rated = (m.rating.value === "down" ? "👎" : "👍") + (m.rating.comment ? " “" + m.rating.comment + "”" : "");
          transcript.appendChild(el("div", "meta right rating rating-" + m.rating.value, rated));
        }
        m.sources.forEach(function (s) {
          transcript.appendChild(el("div", "meta right", "source: " + (s.title || s.external_id || s.id)));
        });
        m.tool_calls.forEach(function (t) {
          transcript.appendChild(el("div", "meta right", "tool: " + (t.name || t.tool || "?") + (t.ok === false ? " (failed)" : "")));
        });
      });
      transcript.scrollTop = transcript.scrollHeight;
      events.textContent = "";
      data.events.forEach(function (e) {
        var text = clock(e.at) + " " + e.kind + (e.to ? " → " + e.to : "") + (e.by ? " · " + e.by : "");
        if (e.reason) text += " · " + e.reason;
        events.appendChild(el("li", null, text));
      });
    }
    poll(function () { return root.dataset.url; }, Number(root.dataset.poll) || 2000, draw, null);
  }

  var list = document.getElementById("inbox");
  if (list) inbox(list);
  var conv = document.getElementById("conversation");
  if (conv) conversation(conv);
})();
