/* Agent console live views: vanilla JavaScript, reads only the console's JSON API.
 *
 * The queue page re-renders its table from /console/api/queue every 3 s, so new
 * tickets appear without a reload. The ticket page asks for transcript lines after
 * the last one it shows every 2 s, appends them, and updates delivery states and
 * the ticket's status. Text is always set with textContent (never as HTML). Forms
 * built here carry the session's form token from <meta name="csrf-token">; every
 * form is sent once (a second click does nothing).
 */
(function () {
  "use strict";

  var body = document.body;
  var page = body.dataset.page;
  var tokenMeta = document.querySelector('meta[name="csrf-token"]');
  var TOKEN = tokenMeta ? tokenMeta.getAttribute("content") : "";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function words(value) {
    return String(value || "").replace(/_/g, " ");
  }

  // "Nov 20 14:05" in the team's time zone, as the server writes times.
  var CLOCK = (function () {
    var options = {
      month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23"
    };
    try {
      return new Intl.DateTimeFormat("en-US", Object.assign({ timeZone: body.dataset.timeZone }, options));
    } catch (e) { // an unknown zone: the browser's own
      return new Intl.DateTimeFormat("en-US", options);
    }
  })();

  function localTime(iso) {
    if (!iso) return "";
    var date = new Date(iso);
    if (isNaN(date.getTime())) return "";
    var parts = {};
    CLOCK.formatToParts(date).forEach(function (part) { parts[part.type] = part.value; });
    return parts.month + " " + parts.day + " " + parts.hour + ":" + parts.minute;
  }

  function postForm(action, label, className) {
    var form = el("form", "inline");
    form.method = "post";
    form.action = action;
    var token = el("input");
    token.type = "hidden";
    token.name = "csrf_token";
    token.value = TOKEN;
    form.appendChild(token);
    form.appendChild(el("button", className || "", label));
    form.lastChild.type = "submit";
    return form;
  }

  function fillUrl(template, value) {
    return template.replace(/REF|ID/, encodeURIComponent(String(value)));
  }

  // Poll `url` every `ms` milliseconds; a 401 means the sign-in ended: reload.
  function poll(url, ms, handle) {
    var busy = false;
    function tick() {
      if (busy || document.hidden) return;
      busy = true;
      fetch(url(), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (response.status === 401) {
            window.location.reload();
            return null;
          }
          return response.ok ? response.json() : null;
        })
        .then(function (data) { if (data) handle(data); })
        .catch(function () { /* offline for a moment: try again next tick */ })
        .then(function () { busy = false; });
    }
    window.setInterval(tick, ms);
  }

  // --- the queue ---------------------------------------------------------------

  function queueRow(t) {
    var tr = el("tr", "sla-" + t.sla + " priority-" + t.priority + (t.unread ? " has-unread" : ""));
    tr.dataset.reference = t.reference;
    var ref = el("td");
    var link = el("a", "", t.reference);
    link.href = fillUrl(body.dataset.ticketUrl, t.reference);
    ref.appendChild(link);
    if (t.unread) {
      ref.appendChild(document.createTextNode(" "));
      var unread = el("span", "unread", t.unread + " new");
      unread.title = "customer messages since the team last wrote";
      ref.appendChild(unread);
    }
    tr.appendChild(ref);

    var priority = el("td");
    var badge = el("span", "priority priority-" + t.priority, t.priority);
    badge.title = t.priority_reason || "";
    priority.appendChild(badge);
    priority.appendChild(el("br"));
    priority.appendChild(el("small", "reason", t.priority_reason || ""));
    tr.appendChild(priority);

    var sla = el("td");
    sla.appendChild(el("span", "sla sla-" + t.sla, words(t.sla)));
    sla.appendChild(el("br"));
    sla.appendChild(el("small", "", "due " + localTime(t.first_response_due_at)));
    tr.appendChild(sla);

    tr.appendChild(el("td", "", words(t.status)));
    tr.appendChild(el("td", "", t.channel));
    tr.appendChild(el("td", "", t.customer));
    tr.appendChild(el("td", "", t.subject));
    tr.appendChild(el("td", "", t.assignee || "—"));
    tr.appendChild(el("td", "", t.age));
    var action = el("td");
    if (t.status === "new") {
      action.appendChild(postForm(fillUrl(body.dataset.claimUrl, t.reference), "Claim"));
    }
    tr.appendChild(action);
    return tr;
  }

  function startQueue() {
    var rows = document.getElementById("queue-rows");
    var updated = document.getElementById("queue-updated");
    var last = "";
    poll(
      function () { return body.dataset.apiUrl + window.location.search; },
      Number(body.dataset.pollMs) || 3000,
      function (data) {
        var seen = JSON.stringify(data);
        if (seen === last) return;
        last = seen;
        var fresh = document.createDocumentFragment();
        data.tickets.forEach(function (t) { fresh.appendChild(queueRow(t)); });
        if (!data.tickets.length) {
          var empty = el("tr", "empty");
          var cell = el("td", "", "No tickets match these filters.");
          cell.colSpan = 10;
          empty.appendChild(cell);
          fresh.appendChild(empty);
        }
        rows.replaceChildren(fresh);
        Object.keys(data.counts).forEach(function (status) {
          var count = document.querySelector('.count[data-status="' + status + '"] strong');
          if (count) count.textContent = String(data.counts[status]);
        });
        if (updated) updated.textContent = "Updated " + new Date().toLocaleTimeString();
      }
    );
  }

  // --- a ticket ------------------------------------------------------------------

  var WHO = { customer: "Customer", bot: "Assistant", system: "Switchboard notice" };

  // What a delivery line shows, so that a poll only redraws a line that changed
  // (and never the "Retry now" button the agent may be about to press).
  function deliveryState(m) {
    return (m.delivery || "") + ":" + (m.last_error || "");
  }

  function deliveryNode(m) {
    var undelivered = m.delivery === "pending" && m.last_error;
    var node = el("div", "delivery delivery-" + m.delivery + (undelivered ? " undelivered" : ""));
    node.dataset.state = deliveryState(m);
    if (m.delivery === "delivered") {
      node.textContent = "delivered";
    } else if (m.delivery === "failed") {
      node.textContent = "failed: " + (m.last_error || "unknown reason");
    } else if (undelivered) {
      node.textContent = "undelivered: " + m.last_error + ", retrying ";
      node.appendChild(postForm(fillUrl(body.dataset.retryUrl, m.id), "Retry now", "small"));
    } else {
      node.textContent = "sending…";
    }
    return node;
  }

  function line(m) {
    var li = el("li", "line line-" + m.sender);
    li.dataset.id = String(m.id);
    var head = el("div", "line-head");
    var who = m.sender === "agent" ? (m.agent_name || "Agent") + " (agent)" : WHO[m.sender] || m.sender;
    head.appendChild(el("span", "who", who));
    var time = el("time", "", localTime(m.sent_at));
    time.dateTime = m.sent_at;
    head.appendChild(time);
    li.appendChild(head);
    li.appendChild(el("div", "text", m.text));
    if (m.delivery) li.appendChild(deliveryNode(m));
    return li;
  }

  function setDelivery(li, m) {
    var old = li.querySelector(".delivery");
    if (old && old.dataset.state === deliveryState(m)) return;
    var fresh = deliveryNode(m);
    if (old) li.replaceChild(fresh, old); else li.appendChild(fresh);
  }

  function startTicket() {
    var transcript = document.getElementById("transcript");
    var after = Number(body.dataset.after) || 0;
    var status = body.dataset.status;
    function find(id) { return transcript.querySelector('li[data-id="' + id + '"]'); }

    poll(
      function () { return body.dataset.apiUrl + "?after=" + after; },
      Number(body.dataset.pollMs) || 2000,
      function (data) {
        data.messages.forEach(function (m) {
          after = Math.max(after, m.id);
          if (find(m.id)) return;
          var empty = transcript.querySelector("li.empty");
          if (empty) empty.remove();
          transcript.appendChild(line(m));
        });
        // Each line shows the state the server reports for it: a line is marked
        // delivered only when the server says so, never because it is missing
        // from a list.
        (data.deliveries || []).forEach(function (d) {
          var li = find(d.id);
          if (li && d.delivery) setDelivery(li, d);
        });

        var t = data.ticket;
        var badge = document.getElementById("ticket-status");
        if (badge) {
          badge.textContent = words(t.status);
          badge.className = "status status-" + t.status;
        }
        var assignee = document.getElementById("ticket-assignee");
        if (assignee) assignee.textContent = t.assignee || "nobody";
        var sla = document.getElementById("ticket-sla");
        if (sla) {
          sla.textContent = words(t.sla);
          sla.className = "sla sla-" + t.sla;
        }
        var held = document.getElementById("ticket-held");
        if (held) held.hidden = !t.held;
        if (t.status !== status) {
          var changed = document.getElementById("ticket-changed");
          if (changed) changed.hidden = false;
        }
      }
    );
  }

  // --- forms -----------------------------------------------------------------------

  // A form is sent once: a double click must not send a reply twice (the server
  // refuses a reply form's key the second time too). The button is marked busy
  // with aria-disabled rather than `disabled`, so it keeps the keyboard focus and
  // screen readers say it is unavailable; a busy label says what is happening.
  function busy(form, on) {
    form.querySelectorAll("button").forEach(function (button) {
      if (on) {
        button.setAttribute("aria-disabled", "true");
        if (button.dataset.busyLabel) {
          button.dataset.label = button.textContent;
          button.textContent = button.dataset.busyLabel;
        }
      } else {
        button.removeAttribute("aria-disabled");
        if (button.dataset.label) button.textContent = button.dataset.label;
      }
    });
    if (on) form.setAttribute("aria-busy", "true"); else form.removeAttribute("aria-busy");
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || form.method !== "post") return;
    if (form.dataset.sent) {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "1";
    busy(form, true);
  });

  // Back to this page from the browser's cache: its forms can be used again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.querySelectorAll("form[data-sent]").forEach(function (form) {
      delete form.dataset.sent;
      busy(form, false);
    });
  });

  if (page === "queue") startQueue();
  if (page === "ticket") startTicket();
})();
