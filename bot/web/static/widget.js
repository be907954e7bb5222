/* Switchboard chat widget: vanilla JavaScript, talks only to this site's chat API.
 *
 * Messages come from three places, all deduplicated by their database id: the
 * answer to a POST, the history loaded on page load, and the live feed (Server-Sent
 * Events, or polling when the stream keeps failing) that brings agent messages.
 * The event stream is read with fetch, not EventSource, so that a 429 (the server
 * has no stream to spare) is seen and its Retry-After honoured.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var MESSAGES_URL = (script && script.dataset.messagesUrl) || "/chat/api/messages";
  var STREAM_URL = (script && script.dataset.streamUrl) || "/chat/api/stream";
  var UPDATES_URL = (script && script.dataset.updatesUrl) || "/chat/api/updates";
  var MAX_LENGTH = 2000;
  var POLL_MS = 3000;
  var IDLE_POLL_MS = 15000;
  var STREAM_RETRY_MS = 30000;
  var MAX_BUSY_RETRY_MS = 300000;
  var OPEN_KEY = "switchboard-chat-open";
  var UNAVAILABLE =
    "We couldn't reach the assistant; your message is saved, please try again.";
  var OFFLINE = "We couldn't send your message; check your connection and try again.";
  // A Markdown link, or a bare http(s) URL without its trailing punctuation.
  var LINK = /\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)|(https?:\/\/[^\s<>"]*[^\s<>".,;:!?)\]'])/g;

  var lastId = 0;
  var shown = {}; // message id -> element
  var pending = []; // customer messages sent but not yet stored: {text, el}
  var unread = 0;
  var stream = null; // the open stream's AbortController
  var retryTimer = null;
  var pollTimer = null;
  var pollMs = 0;
  var streamFailures = 0;
  var busyAnswers = 0; // 429s in a row

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  // --- the widget's elements -------------------------------------------------
  var launcher = el("button", "sb-launcher");
  launcher.type = "button";
  launcher.id = "sb-launcher";
  launcher.setAttribute("aria-controls", "sb-panel");
  launcher.setAttribute("aria-expanded", "false");
  launcher.appendChild(el("span", "sb-launcher-label", "Chat with us"));
  var badge = el("span", "sb-badge");
  badge.hidden = true;
  badge.setAttribute("aria-hidden", "true");
  launcher.appendChild(badge);

  var panel = el("section", "sb-panel");
  panel.id = "sb-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-modal", "false");
  panel.setAttribute("aria-labelledby", "sb-title");

  var header = el("div", "sb-header");
  var title = el("h2", "", "Customer service");
  title.id = "sb-title";
  var close = el("button", "sb-close", "\u00d7");
  close.type = "button";
  close.setAttribute("aria-label", "Close chat");
  header.appendChild(title);
  header.appendChild(close);

  var log = el("div", "sb-log");
  log.id = "sb-log";
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-relevant", "additions");
  log.tabIndex = 0;

  var typing = el("div", "sb-typing");
  typing.id = "sb-typing";
  typing.hidden = true;
  typing.setAttribute("role", "status");
  typing.appendChild(el("span", "sb-visually-hidden", "The assistant is typing"));
  var dots = el("span", "sb-dots");
  dots.setAttribute("aria-hidden", "true");
  dots.appendChild(el("span"));
  dots.appendChild(el("span"));
  dots.appendChild(el("span"));
  typing.appendChild(dots);
  log.appendChild(typing);

  var form = el("form", "sb-form");
  var label = el("label", "sb-visually-hidden", "Your message");
  label.htmlFor = "sb-input";
  var input = el("textarea", "sb-input");
  input.id = "sb-input";
  input.rows = 1;
  input.maxLength = MAX_LENGTH;
  input.placeholder = "Type your message\u2026";
  var sendButton = el("button", "sb-send", "Send");
  sendButton.type = "submit";
  sendButton.id = "sb-send";
  form.appendChild(label);
  form.appendChild(input);
  form.appendChild(sendButton);

  // Signed-in customers only: whether order updates may come here (and by text).
  var updates = el("fieldset", "sb-updates");
  updates.id = "sb-updates";
  updates.hidden = true;
  updates.appendChild(el("legend", "sb-visually-hidden", "Updates about your orders"));

  panel.appendChild(header);
  panel.appendChild(updates);
  panel.appendChild(log);
  panel.appendChild(form);

  // --- rendering -------------------------------------------------------------
  // Text goes in as text nodes, so HTML in it is shown, never run; URLs become links.
  function appendText(node, text) {
    var at = 0;
    var match;
    LINK.lastIndex = 0;
    while ((match = LINK.exec(text)) !== null) {
      if (match.index > at) node.appendChild(document.createTextNode(text.slice(at, match.index)));
      var url = match[2] || match[3];
      var link = el("a", "", match[1] || url);
      link.href = url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      node.appendChild(link);
      at = match.index + match[0].length;
    }
    if (at < text.length) node.appendChild(document.createTextNode(text.slice(at)));
  }

  function speakerLabel(message) {
    if (message.sender === "agent") {
      return el("span", "sb-sender", message.agent_name ? "Agent " + message.agent_name : "Agent");
    }
    var names = { bot: "Assistant: ", customer: "You: ", system: "Notice: " };
    return el("span", "sb-visually-hidden", names[message.sender] || "");
  }

  function buttonsFor(message) {
    var group = el("div", "sb-buttons");
    message.buttons.forEach(function (button) {
      var choice = el("button", "sb-button", button.title);
      choice.type = "button";
      choice.addEventListener("click", function () {
        group.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
        send(button.title, button.payload);
      });
      group.appendChild(choice);
    });
    return group;
  }

  function place(node, id) {
    var later = null;
    Object.keys(shown).some(function (key) {
      if (Number(key) > id && (!later || Number(key) < Number(later.dataset.id))) later = shown[key];
      return false;
    });
    log.insertBefore(node, later || typing);
    log.scrollTop = log.scrollHeight;
  }

  function claimPending(message) {
    for (var i = 0; i < pending.length; i++) {
      if (pending[i].text === message.text) {
        pending[i].el.remove();
        pending.splice(i, 1);
        return;
      }
    }
  }

  function render(message, fromHistory) {
    if (!message || typeof message.id !== "number" || shown[message.id]) return;
    if (message.sender === "customer") claimPending(message);
    var node = el("div", "sb-msg sb-msg--" + message.sender);
    node.dataset.id = String(message.id);
    node.appendChild(speakerLabel(message));
    var body = el("span", "sb-text");
    appendText(body, message.text || "");
    node.appendChild(body);
    if (message.image) {
      var image = el("div");
      appendText(image, message.image);
      node.appendChild(image);
    }
    if (message.buttons && message.buttons.length) node.appendChild(buttonsFor(message));
    shown[message.id] = node;
    lastId = Math.max(lastId, message.id);
    place(node, message.id);
    if (!fromHistory && panel.hidden && message.sender !== "customer") {
      unread += 1;
      badge.textContent = String(unread);
      badge.hidden = false;
      launcher.setAttribute("aria-label", "Chat with us (" + unread + " new)");
    }
  }

  function notice(text) {
    var node = el("div", "sb-notice", text);
    node.setAttribute("role", "alert");
    log.insertBefore(node, typing);
    log.scrollTop = log.scrollHeight;
  }

  function setTyping(on) {
    typing.hidden = !on;
    sendButton.disabled = on;
    log.setAttribute("aria-busy", on ? "true" : "false");
    if (on) log.scrollTop = log.scrollHeight;
  }

  // --- talking to the server ---------------------------------------------------
  function request(url, options) {
    options = options || {};
    options.credentials = "same-origin";
    options.headers = Object.assign({ Accept: "application/json" }, options.headers || {});
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, data: data };
      });
    });
  }

  function send(text, payload) {
    text = (text || "").trim();
    if (!text) { notice("Type a message before sending."); return; }
    if (text.length > MAX_LENGTH) { notice("Messages can be at most " + MAX_LENGTH + " characters."); return; }
    var mine = el("div", "sb-msg sb-msg--customer sb-msg--pending");
    mine.appendChild(el("span", "sb-visually-hidden", "You: "));
    mine.appendChild(el("span", "sb-text", text));
    log.insertBefore(mine, typing);
    pending.push({ text: text, el: mine });
    setTyping(true);
    watchOpen();
    var body = payload ? { text: text, payload: payload } : { text: text };
    request(MESSAGES_URL, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }).then(function (result) {
      (result.data.messages || []).forEach(function (m) { render(m, false); });
      if (result.status === 503) {
        notice(result.data.message || UNAVAILABLE);
      } else if (result.status >= 400) {
        claimPending({ text: text });
        notice(result.data.message || "Something went wrong; please try again.");
      }
    }).catch(function () {
      claimPending({ text: text });
      if (!input.value) input.value = text;
      notice(OFFLINE);
    }).then(function () {
      setTyping(false);
    });
  }

  function poll() {
    request(MESSAGES_URL + "?after=" + lastId).then(function (result) {
      (result.data.messages || []).forEach(function (m) { render(m, false); });
    }).catch(function () { /* offline for now: the next poll tries again */ });
  }

  function pollEvery(ms) {
    if (pollTimer && pollMs === ms) return;
    stopPolling();
    pollMs = ms;
    pollTimer = window.setInterval(poll, ms);
  }

  function stopPolling() {
    if (pollTimer) window.clearInterval(pollTimer);
    pollTimer = null;
  }

  function closeStream() {
    if (stream) stream.abort();
    stream = null;
    if (retryTimer) window.clearTimeout(retryTimer);
    retryTimer = null;
  }

  function retryStream(ms) {
    if (retryTimer) window.clearTimeout(retryTimer);
    retryTimer = window.setTimeout(function () { retryTimer = null; openStream(); }, ms);
  }

  // How long a 429 asks us to wait (Retry-After: seconds or an HTTP date), doubled
  // for each 429 in a row, with some jitter so that waiting widgets spread out.
  function busyWaitMs(response) {
    var value = response.headers.get("Retry-After") || "";
    var ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - Date.now();
    if (!(ms > 0)) ms = STREAM_RETRY_MS;
    ms *= Math.pow(2, Math.min(busyAnswers - 1, 3));
    ms *= 1 + Math.random() * 0.2;
    return Math.min(Math.max(ms, 1000), MAX_BUSY_RETRY_MS);
  }

  // One event of the stream: only its data lines matter (the message has its id).
  function handleEvent(block) {
    var data = block.split(/\r?\n/).filter(function (line) {
      return line.indexOf("data:") === 0;
    }).map(function (line) { return line.slice(5).replace(/^ /, ""); }).join("\n");
    if (!data) return;
    try { render(JSON.parse(data), false); } catch (e) { /* not a message */ }
  }

  function streamFailed() {
    streamFailures += 1;
    if (streamFailures >= 3) {
      streamFailures = 0;
      pollEvery(POLL_MS);
      retryStream(STREAM_RETRY_MS);
    } else {
      retryStream(1000 * streamFailures);
    }
  }

  // The stream runs only while the panel is open: each one holds a server thread.
  function openStream() {
    closeStream();
    if (panel.hidden) return;
    var controller = new AbortController();
    stream = controller;
    fetch(STREAM_URL + "?after=" + lastId, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "text/event-stream" },
      signal: controller.signal,
    }).then(function (response) {
      if (stream !== controller) return;
      if (response.status === 429) {
        // No stream to spare: poll meanwhile, and try again when the server says.
        stream = null;
        busyAnswers += 1;
        pollEvery(POLL_MS);
        retryStream(busyWaitMs(response));
        return;
      }
      if (!response.ok || !response.body) throw new Error("stream: HTTP " + response.status);
      streamFailures = 0;
      busyAnswers = 0;
      stopPolling();
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) return;
          buffer += decoder.decode(chunk.value, { stream: true });
          var blocks = buffer.split(/\r?\n\r?\n/);
          buffer = blocks.pop();
          blocks.forEach(handleEvent);
          return pump();
        });
      }
      return pump().then(function () {
        // The server ends each stream after a while: reconnect from lastId.
        if (stream !== controller) return;
        stream = null;
        retryStream(250);
      });
    }).catch(function () {
      if (stream !== controller) return; // closed on purpose
      stream = null;
      streamFailed();
    });
  }

  function watchOpen() {
    var canStream = window.fetch && window.AbortController && window.TextDecoder &&
      window.ReadableStream;
    if (!canStream) { pollEvery(POLL_MS); return; }
    if (!stream && !retryTimer) openStream();
  }

  function watchClosed() {
    closeStream();
    streamFailures = 0;
    // An agent may still answer: check now and then, to show the unread badge.
    if (lastId > 0) pollEvery(IDLE_POLL_MS); else stopPolling();
  }

  // --- order updates: the customer's own yes or no, per channel ----------------
  var UPDATE_LABELS = { web: "Send me order updates here", sms: "\u2026and by text message" };
  var updatesAsked = false;

  function showUpdateChoices(choices) {
    while (updates.lastChild && updates.lastChild.tagName !== "LEGEND") updates.removeChild(updates.lastChild);
    Object.keys(UPDATE_LABELS).forEach(function (channel) {
      if (!(channel in choices)) return;
      var row = el("label", "sb-update");
      var box = el("input");
      box.type = "checkbox";
      box.name = channel;
      box.checked = choices[channel] === true;
      box.addEventListener("change", function () { chooseUpdates(channel, box); });
      row.appendChild(box);
      row.appendChild(document.createTextNode(" " + UPDATE_LABELS[channel]));
      updates.appendChild(row);
    });
    updates.hidden = updates.querySelectorAll("input").length === 0;
  }

  function askUpdateChoices() {
    if (updatesAsked) return;
    updatesAsked = true;
    fetch(UPDATES_URL, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (choices) { if (choices) showUpdateChoices(choices); })
      .catch(function () { updatesAsked = false; });
  }

  function chooseUpdates(channel, box) {
    var body = {};
    body[channel] = box.checked;
    box.disabled = true;
    fetch(UPDATES_URL, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (response.ok) { showUpdateChoices(answer); return; }
        box.checked = !box.checked;
        box.disabled = false;
        notice(answer.message || "We couldn't save that choice; please try again.");
      });
    }).catch(function () {
      box.checked = !box.checked;
      box.disabled = false;
      notice(OFFLINE);
    });
  }

  // --- opening, closing, keyboard ----------------------------------------------
  function setOpen(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    try { window.sessionStorage.setItem(OPEN_KEY, open ? "1" : "0"); } catch (e) { /* private mode */ }
    if (open) {
      unread = 0;
      badge.hidden = true;
      launcher.removeAttribute("aria-label");
      watchOpen();
      askUpdateChoices();
      log.scrollTop = log.scrollHeight;
      input.focus();
    } else {
      watchClosed();
    }
  }

  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  close.addEventListener("click", function () { setOpen(false); launcher.focus(); });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { setOpen(false); launcher.focus(); }
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit"));
    }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (sendButton.disabled) return;
    var text = input.value;
    if (!text.trim()) { notice("Type a message before sending."); return; }
    input.value = "";
    send(text);
  });

  document.body.appendChild(panel);
  document.body.appendChild(launcher);

  request(MESSAGES_URL + "?after=0").then(function (result) {
    var history = result.data.messages || [];
    history.forEach(function (m) { render(m, true); });
    if (panel.hidden) watchClosed();
  }).catch(function () { /* the first send or poll will tell */ });

  var wasOpen = false;
  try { wasOpen = window.sessionStorage.getItem(OPEN_KEY) === "1"; } catch (e) { /* private mode */ }
  if (wasOpen) setOpen(true);
})();
