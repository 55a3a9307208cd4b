// mqttcloud console: the online MQTT client of a deployment (mqtt_client.html), on MQTT.js (vendor/mqtt.min.js).
// Connects over WebSocket from the browser, subscribes, publishes and lists the messages. No build step.
"use strict";

(function () {
  const root = document.getElementById("mqtt-client");
  const form = document.getElementById("mc-connect-form");
  if (!root || !form || typeof mqtt === "undefined") return;
  const $ = (id) => document.getElementById(id);
  const label = (name) => root.dataset["label" + name.charAt(0).toUpperCase() + name.slice(1)] || name;
  const MAX_ROWS = 500;
  let client = null;

  function setState(state) {
    const badge = $("mc-state");
    badge.textContent = label(state);
    badge.className = "status status-" + (state === "connected" ? "running" : state === "connecting" ? "starting" : "stopped");
    const connected = state === "connected";
    $("mc-connect").disabled = state !== "disconnected";
    $("mc-disconnect").disabled = state === "disconnected";
    $("mc-subscribe").disabled = !connected;
    $("mc-publish").disabled = !connected;
  }

  function showError(text) {
    const box = $("mc-error");
    box.textContent = text || "";
    box.hidden = !text;
  }

  function addRow(direction, topic, qos, payload) {
    const body = $("mc-messages").tBodies[0];
    const row = body.insertRow(0);
    row.dataset.direction = direction;
    const time = new Date().toISOString().replace("T", " ").slice(0, 19) + " UTC";
    [time, label(direction), topic, String(qos), payload].forEach((text, index) => {
      const cell = row.insertCell();
      if (index >= 2) { const code = document.createElement("code"); code.textContent = text; cell.appendChild(code); }
      else cell.textContent = text;
    });
    while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
  }

  function addSubscription(topic, qos) {
    const list = $("mc-subscriptions");
    const item = document.createElement("li");
    item.dataset.topic = topic;
    const code = document.createElement("code");
    code.textContent = topic;
    item.append(code, " QoS " + qos + " ");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link";
    button.textContent = "×";
    button.setAttribute("aria-label", "Unsubscribe " + topic);
    button.addEventListener("click", () => { if (client) client.unsubscribe(topic, () => item.remove()); });
    item.appendChild(button);
    list.appendChild(item);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (client) return;
    showError("");
    setState("connecting");
    const options = {
      clientId: $("mc-client-id").value.trim(),
      username: $("mc-username").value || undefined,
      password: $("mc-password").value || undefined,
      clean: true,
      reconnectPeriod: 0, // a test client: a failure is shown, not retried
      connectTimeout: 10000,
      timerVariant: "native", // the default starts a Worker from a blob: URL, which the console's CSP refuses
    };
    client = mqtt.connect($("mc-url").value, options);
    client.on("connect", () => { setState("connected"); $("mc-subscriptions").replaceChildren(); });
    client.on("message", (topic, payload, packet) => addRow("received", topic, packet.qos, payload.toString()));
    client.on("error", (error) => showError(label("error") + ": " + (error && error.message ? error.message : error)));
    client.on("close", () => {
      if (client) { client.end(true); client = null; }
      setState("disconnected");
    });
  });

  $("mc-disconnect").addEventListener("click", () => {
    if (!client) return;
    const closing = client;
    client = null;
    closing.end(false, {}, () => setState("disconnected"));
  });

  $("mc-subscribe-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const topic = $("mc-sub-topic").value.trim();
    const qos = Number($("mc-sub-qos").value);
    if (!client || !topic) return;
    client.subscribe(topic, { qos: qos }, (error, granted) => {
      if (error) { showError(label("error") + ": " + error.message); return; }
      const refused = (granted || []).find((g) => g.qos >= 128);
      if (refused) { showError(label("error") + ": " + topic + " (0x" + refused.qos.toString(16) + ")"); return; }
      addSubscription(topic, granted && granted[0] ? granted[0].qos : qos);
    });
  });

  $("mc-publish-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const topic = $("mc-pub-topic").value.trim();
    const payload = $("mc-pub-payload").value;
    const qos = Number($("mc-pub-qos").value);
    if (!client || !topic) return;
    client.publish(topic, payload, { qos: qos, retain: $("mc-pub-retain").checked }, (error) => {
      if (error) showError(label("error") + ": " + error.message);
      else addRow("sent", topic, qos, payload);
    });
  });

  $("mc-clear").addEventListener("click", () => $("mc-messages").tBodies[0].replaceChildren());
  setState("disconnected");
})();
