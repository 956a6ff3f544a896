// The gateway's API as the page uses it: the token (from the URL fragment once, then
// local storage) sent as a bearer token, JSON calls, a turn's server-sent events read
// from a streamed fetch, and the /api/events WebSocket, which takes the token as a
// `bearer.TOKEN` subprotocol (a browser cannot set headers there; never in the URL).

const TOKEN_KEY = 'hearth.token';

export class Unauthorized extends Error {}

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// Moves `#token=…` into local storage and clears the fragment (so it is neither
// bookmarked nor left in history).
export function adoptTokenFromFragment() {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!match) return;
  localStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
  history.replaceState(null, '', location.pathname + location.search);
}

export const token = {
  get: () => localStorage.getItem(TOKEN_KEY) || '',
  set: (value) => localStorage.setItem(TOKEN_KEY, value.trim()),
  clear: () => localStorage.removeItem(TOKEN_KEY),
};

async function failure(response) {
  if (response.status === 401) return new Unauthorized('the token was missing or wrong');
  let message = `${response.status} ${response.statusText}`;
  let code;
  try {
    const body = await response.json();
    message = body?.error?.message || message;
    code = body?.error?.code;
  } catch { /* not JSON */ }
  return new ApiError(response.status, message, code);
}

// `method path` with an optional JSON body; the parsed answer (null for 204).
export async function call(method, path, body) {
  const headers = { Authorization: `Bearer ${token.get()}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
  });
  if (!response.ok) throw await failure(response);
  return response.status === 204 ? null : response.json();
}

// Sends `text` to session `id` and calls `onEvent` with each event of the turn, in
// order, until the last one. Resolves when the stream ends.
export async function sendMessage(id, text, onEvent) {
  const response = await fetch(`/api/sessions/${encodeURIComponent(id)}/messages`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${token.get()}`,
      'Content-Type': 'application/json',
      Accept: 'text/event-stream',
    },
    body: JSON.stringify({ text }),
  });
  if (!response.ok) throw await failure(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''))
        .join('\n');
      if (!data) continue;
      try {
        onEvent(JSON.parse(data));
      } catch (err) {
        console.error('bad event', err);
      }
    }
  }
}

// Keeps a WebSocket to /api/events open (reconnecting with backoff) and passes each
// `{session_id, event}` to `onEvent`; `onState` hears 'open', 'closed' and 'unauthorized'.
export function watchEvents(onEvent, onState) {
  let delay = 500;
  let stopped = false;
  const connect = () => {
    if (stopped) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let socket;
    try {
      socket = new WebSocket(`${scheme}//${location.host}/api/events`, [
        'hearth.events',
        `bearer.${token.get()}`,
      ]);
    } catch {
      onState('closed');
      return;
    }
    let opened = false;
    socket.onopen = () => {
      opened = true;
      delay = 500;
      onState('open');
    };
    socket.onmessage = (message) => {
      try {
        onEvent(JSON.parse(message.data));
      } catch (err) {
        console.error('bad event', err);
      }
    };
    socket.onclose = () => {
      onState(opened ? 'closed' : 'unreachable');
      if (!stopped) setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    };
  };
  connect();
  return () => { stopped = true; };
}
