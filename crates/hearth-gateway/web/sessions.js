// The sessions sidebar: every session with its title and last activity, newest first;
// the open one is marked. Refreshed on demand (the page calls it when the event
// WebSocket shows a turn, so sessions used elsewhere appear and move up live).

import { call } from './api.js';

export function relativeTime(iso) {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return '';
  const seconds = Math.round((Date.now() - then) / 1000);
  if (seconds < 45) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.round(hours / 24);
  if (days < 7) return `${days} d ago`;
  return new Date(then).toLocaleDateString();
}

export function titleOf(session) {
  return session?.title?.trim() || 'Untitled session';
}

export class Sidebar {
  constructor(list, onOpen) {
    this.list = list;
    this.onOpen = onOpen;
    this.sessions = [];
    this.active = null;
    this.refreshing = null;
    this.again = false;
  }

  has(id) {
    return this.sessions.some((s) => s.id === id);
  }

  get(id) {
    return this.sessions.find((s) => s.id === id);
  }

  // Reloads the list; calls made while one runs coalesce into one more.
  async refresh() {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.again = false;
        const { sessions } = await call('GET', '/api/sessions');
        sessions.sort((a, b) => (b.updated_at || '').localeCompare(a.updated_at || ''));
        this.sessions = sessions;
        this.draw();
      } while (this.again);
    })();
    try {
      await this.refreshing;
    } finally {
      this.refreshing = null;
    }
  }

  setActive(id) {
    this.active = id;
    for (const button of this.list.querySelectorAll('button.session')) {
      if (button.dataset.id === id) button.setAttribute('aria-current', 'true');
      else button.removeAttribute('aria-current');
    }
  }

  draw() {
    const items = this.sessions.map((session) => {
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'session';
      button.dataset.id = session.id;
      if (session.id === this.active) button.setAttribute('aria-current', 'true');
      const title = document.createElement('span');
      title.className = 'session-title';
      title.textContent = titleOf(session);
      const when = document.createElement('time');
      when.dateTime = session.updated_at;
      const count = session.message_count;
      when.textContent = `${relativeTime(session.updated_at)} · ${count} message${count === 1 ? '' : 's'}`;
      button.append(title, when);
      button.addEventListener('click', () => this.onOpen(session.id));
      item.append(button);
      return item;
    });
    if (!items.length) {
      const empty = document.createElement('li');
      empty.className = 'muted';
      empty.textContent = 'No sessions yet.';
      items.push(empty);
    }
    this.list.replaceChildren(...items);
  }
}
