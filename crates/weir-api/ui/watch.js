// GET /v1/watch read with fetch() and a stream reader: EventSource cannot
// send an Authorization header, and a token in the URL would end up in
// logs and history. Reconnects resume from the last event id (a position,
// never a secret) with a growing pause, so a server restart or a cut slow
// client misses nothing.

import { token } from "./api.js";

const MAX_LINE = 64 * 1024;

/** Splits an SSE byte stream into events ({event, data, id}). */
export class SseParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = "";
    this.reset();
  }

  reset() {
    this.event = "message";
    this.data = [];
    this.id = null;
  }

  push(text) {
    this.buffer += text;
    let nl;
    while ((nl = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      // A CR that ends the chunk may be the first half of a CRLF cut by the
      // network: wait for the next chunk before reading it as a line end.
      if (nl === this.buffer.length - 1 && this.buffer[nl] === "\r") break;
      const line = this.buffer.slice(0, nl);
      const width = this.buffer.startsWith("\r\n", nl) ? 2 : 1;
      this.buffer = this.buffer.slice(nl + width);
      this.line(line);
    }
    // A peer that never ends a line would grow this without bound.
    if (this.buffer.length > MAX_LINE) throw new Error("watch stream line too long");
  }

  /** The stream ended: a CR held back is a line end after all. */
  finish() {
    if (this.buffer.endsWith("\r")) {
      this.buffer = this.buffer.slice(0, -1);
      this.line(this.buffer);
      this.buffer = "";
    }
  }

  line(line) {
    if (line === "") {
      if (this.data.length) this.onEvent({ event: this.event, data: this.data.join("\n"), id: this.id });
      this.reset();
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.event = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id") this.id = value;
  }
}

/**
 * Follows the watch stream until stop() is called: `onEvent` gets each
 * parsed event with its JSON data, `onState` a short text for the page.
 */
export function follow(onEvent, onState) {
  const control = new AbortController();
  let position = null;
  let pause = 500;
  let stopped = false;

  async function once() {
    const query = position === null ? "" : `?since=${encodeURIComponent(position)}`;
    const response = await fetch(`/v1/watch${query}`, {
      headers: { Authorization: `Bearer ${token() ?? ""}`, Accept: "text/event-stream" },
      credentials: "omit", cache: "no-store", signal: control.signal,
    });
    if (!response.ok) {
      let message = `HTTP ${response.status}`;
      try { message = (await response.json()).message ?? message; } catch { /* keep */ }
      if (response.status === 410) position = null;
      throw new Error(message);
    }
    onState("live");
    pause = 500;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SseParser((e) => {
      if (e.id !== null && e.id !== "") position = e.id;
      let data = null;
      try { data = JSON.parse(e.data); } catch { data = null; }
      onEvent({ event: e.event, data });
    });
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        parser.finish();
        return;
      }
      parser.push(value);
    }
  }

  (async () => {
    while (!stopped) {
      try {
        await once();
        if (!stopped) onState("reconnecting");
      } catch (e) {
        if (stopped) return;
        onState(`reconnecting (${e.message})`);
      }
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 15000);
    }
  })();

  return {
    stop() {
      stopped = true;
      control.abort();
    },
  };
}
