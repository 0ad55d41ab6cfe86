// The example client of the messaging API: plain JavaScript, no library, no build step.
// Read it from top to bottom:
//   1. the state, and one function for every API call (tokens, refreshing them);
//   2. logging in and out;
//   3. conversations and messages, through the REST API;
//   4. the event stream: new messages, edits, deletes and typing, live; reconnecting;
//   5. typing notices.
"use strict";

// ---- 1. State, and the API ------------------------------------------------------------

// The tokens live in this object only: never in localStorage (any script that gets
// into the page could read it) and never in a URL (URLs end up in logs). So a reload
// logs you out; a real client might keep the refresh token in sessionStorage.
const state = {
  access: null,              // access token, sent as Authorization: Bearer
  refresh: null,             // refresh token: good once, each refresh gives a new pair
  me: null,                  // my profile: {id, username, ...}
  conversations: new Map(),  // id -> conversation, as the API shows it
  openId: null,              // the conversation on screen
  messageItems: new Map(),   // message id -> its <li>, in the conversation on screen
  typists: new Map(),        // username -> timer: "bob is typing…" for 5 s
  stream: null,              // the EventSource
  paused: false,             // replaced by a newer stream of mine: resume when seen again
  lastEventId: null,         // id of the last event seen: where a new stream resumes
  retryDelay: 1000,          // before reconnecting; doubles up to 30 s
};

const $ = (selector) => document.querySelector(selector);

class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);  // the API's errors are {code, status, message}
    this.status = status;
  }
}

// fetch() with my token and JSON. A 401 means the access token expired (they last
// minutes): refresh the tokens once, then ask again.
async function api(method, path, body, headers = {}) {
  for (let attempt = 1; ; attempt++) {
    const options = { method, headers: { ...headers } };
    if (state.access) options.headers.Authorization = `Bearer ${state.access}`;
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    if (response.status === 401 && state.refresh && attempt === 1) {
      await refreshTokens();
      continue;
    }
    const answer = response.status === 204 ? null : await response.json();
    if (!response.ok) throw new ApiError(response.status, answer);
    return answer;
  }
}

// A refresh token works once. Calls that find the access token expired at the same
// time share one refresh: a second one would spend a used token and fail.
let refreshing = null;
function refreshTokens() {
  refreshing ??= (async () => {
    const response = await fetch("/api/auth/refresh/", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh: state.refresh }),
    });
    if (!response.ok) {  // expired, or revoked (logged out elsewhere)
      const message = "Your session has ended: please log in again.";
      showLogin(message);
      throw new Error(message);
    }
    ({ access: state.access, refresh: state.refresh } = await response.json());
  })().finally(() => { refreshing = null; });
  return refreshing;
}

function showError(error) {
  $("#error").textContent = error ? error.message : "";
}

// A form's submit runs `handle` instead of loading a page; its errors are shown.
function onSubmit(selector, handle) {
  $(selector).addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(null);
    try {
      await handle(event.target.elements);
    } catch (error) {
      showError(error);
    }
  });
}

function element(tag, className, text) {
  const made = document.createElement(tag);
  made.className = className;
  made.textContent = text;  // text, never innerHTML: what people write must not become markup
  return made;
}

// ---- 2. Logging in and out ------------------------------------------------------------

onSubmit("#login-form", async (fields) => {
  const session = await api("POST", "/api/auth/login/", {
    username: fields.username.value,
    password: fields.password.value,
  });
  fields.password.value = "";
  ({ access: state.access, refresh: state.refresh, user: state.me } = session);
  $("#me").textContent = state.me.username;
  $("#login").hidden = true;
  $("#chat").hidden = false;
  connect();  // the stream first: once it is open, the conversations are loaded
});

$("#logout").addEventListener("click", async () => {
  // Both tokens stop working at once, on every worker.
  await api("POST", "/api/auth/logout/", { refresh: state.refresh }).catch(() => {});
  showLogin();
});

function showLogin(message) {
  clearTimeout(reconnectTimer);
  state.stream?.close();
  Object.assign(state, { access: null, refresh: null, me: null, stream: null, lastEventId: null });
  state.conversations.clear();
  closeConversation();
  $("#conversations").replaceChildren();
  $("#connection").textContent = "connecting…";
  $("#chat").hidden = true;
  $("#login").hidden = false;
  showError(message ? { message } : null);
}

// ---- 3. Conversations and messages ----------------------------------------------------

async function loadConversations() {
  const page = await api("GET", "/conversations/");  // the 50 most recent are enough here
  state.conversations = new Map(page.results.map((c) => [c.id, c]));
  renderConversations();
}

async function reloadConversation(id) {
  state.conversations.set(id, await api("GET", `/conversations/${id}/`));
  renderConversations();
}

// What everything on screen comes from: after a (re)connection that could not resume.
async function reloadEverything() {
  await loadConversations();
  if (state.conversations.has(state.openId)) await openConversation(state.openId);
  else closeConversation();
}

onSubmit("#start-form", async (fields) => {
  // /api/users/?q= finds the usernames that start with q: take the one that is it.
  const wanted = fields.username.value.trim().toLowerCase();
  const found = await api("GET", `/api/users/?q=${encodeURIComponent(wanted)}`);
  const user = found.results.find((u) => u.username.toLowerCase() === wanted);
  if (!user) throw new Error(`Nobody is called ${fields.username.value}.`);
  // With one other person and no title the conversation is direct: if we have one
  // already, the API answers with it (200) instead of making another (201).
  const conversation = await api("POST", "/conversations/", { participants: [user.id] });
  state.conversations.set(conversation.id, conversation);
  fields.username.value = "";
  await openConversation(conversation.id);
});

function conversationName(conversation) {
  const others = conversation.participants.filter((p) => p.id !== state.me.id);
  return conversation.title || others.map((p) => p.username).join(", ") || "(only me)";
}

function renderConversations() {
  const recent = (c) => Date.parse(c.last_message_at || c.created_at);
  const sorted = [...state.conversations.values()].sort((a, b) => recent(b) - recent(a));
  $("#conversations").replaceChildren(...sorted.map((conversation) => {
    const item = element("li", conversation.id === state.openId ? "open" : "", "");
    const button = element("button", "name", conversationName(conversation));
    button.type = "button";
    button.addEventListener("click", () => openConversation(conversation.id).catch(showError));
    item.append(button);
    if (conversation.unread_count > 0) {  // 1000 means "1000 or more"
      item.append(element("span", "unread", conversation.unread_count));
    }
    return item;
  }));
}

async function openConversation(id) {
  state.openId = id;
  const page = await api("GET", `/conversations/${id}/messages/`);
  if (state.openId !== id) return;  // another one was opened meanwhile
  closeConversation();
  state.openId = id;
  $("#title").textContent = conversationName(state.conversations.get(id));
  // The API lists the newest first; on screen the oldest is at the top.
  const messages = page.results.reverse();
  messages.forEach(showMessage);
  $("#conversation").hidden = false;
  renderConversations();
  $("#send-form").elements.content.focus();
  if (messages.length) await markRead(messages.at(-1));
}

function closeConversation() {
  state.openId = null;
  state.messageItems.clear();
  state.typists.forEach((timer) => clearTimeout(timer));
  state.typists.clear();
  $("#messages").replaceChildren();
  $("#typing").textContent = "";
  $("#conversation").hidden = true;
}

// Show a message in the open conversation: a new one at the bottom, a known one again.
function showMessage(message) {
  let item = state.messageItems.get(message.id);
  if (!item) {
    item = element("li", "", "");
    state.messageItems.set(message.id, item);
    $("#messages").append(item);
  }
  item.classList.toggle("mine", message.sender.id === state.me.id);
  const time = new Date(message.created_at).toLocaleTimeString([], { timeStyle: "short" });
  item.replaceChildren(
    element("span", "sender", message.sender.username),
    element("span", "content", message.content),
    element("time", "", message.edited_at ? `${time}, edited` : time),
  );
  item.scrollIntoView({ block: "nearest" });
}

// Move my read marker up to this message; the server never moves it back.
// (Only what is on screen counts as read: see also "visibilitychange" below.)
async function markRead(message) {
  if (state.conversations.get(message.conversation_id)?.unread_count === 0) return;
  const url = `/conversations/${message.conversation_id}/read/`;
  const conversation = await api("POST", url, { message_id: message.id });
  state.conversations.set(conversation.id, conversation);  // with unread_count 0
  renderConversations();
}

// Coming back to the tab: what came meanwhile in the open conversation is read now.
document.addEventListener("visibilitychange", () => {
  const open = state.conversations.get(state.openId);
  if (document.visibilityState === "visible" && open?.last_message) {
    markRead(open.last_message).catch(showError);
  }
});

onSubmit("#send-form", async (fields) => {
  const id = state.openId;
  const message = await sendMessage(id, fields.content.value);
  fields.content.value = "";
  lastTypingNotice = 0;  // typing again is news again
  messageArrived(message);
});

// One Idempotency-Key per message (crypto.randomUUID() needs https or localhost). If
// the answer is lost on the way, sending again with the same key gets the message
// the server already has, never a second copy.
async function sendMessage(conversationId, content) {
  const headers = { "Idempotency-Key": crypto.randomUUID() };
  const url = `/conversations/${conversationId}/messages/`;
  for (let attempt = 1; ; attempt++) {
    try {
      return await api("POST", url, { content }, headers);
    } catch (error) {
      // fetch() throws a TypeError when no answer came: stored or not, we cannot tell.
      if (!(error instanceof TypeError) || attempt === 3) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000 * attempt));
    }
  }
}

// A message I sent, or one the stream brought: the list and the open conversation show it.
function messageArrived(message) {
  const conversation = state.conversations.get(message.conversation_id);
  conversation.last_message = message;
  conversation.last_message_at = message.created_at;
  if (message.conversation_id === state.openId) {
    showMessage(message);
    stopTyping(message.sender.username);
  }
  renderConversations();
}

// ---- 4. The event stream --------------------------------------------------------------

// EventSource cannot send Authorization, so the stream opens with a ticket from
// POST /api/events/ticket/: good for one stream, for 30 s. EventSource would reconnect
// by itself with the same, used ticket; so on any error we close it and open a new
// one ourselves, with a new ticket and ?after=<the last event's id>: the server then
// sends every event we missed, in order, before the new ones.
let reconnectTimer = null;

async function connect() {
  clearTimeout(reconnectTimer);
  state.stream?.close();
  let ticket;
  try {
    ({ ticket } = await api("POST", "/api/events/ticket/"));
  } catch {
    if (state.access) reconnectLater();  // else: logged out, the session ended
    return;
  }
  if (!state.access) return;
  const resuming = state.lastEventId !== null;
  let url = `/api/events/?ticket=${encodeURIComponent(ticket)}`;
  if (resuming) url += `&after=${state.lastEventId}`;
  const stream = new EventSource(url);
  state.stream = stream;

  stream.onopen = () => {
    state.retryDelay = 1000;
    $("#connection").textContent = "live";
    // A new stream starts from now: load what was there before through REST.
    // A resumed one replays what we missed instead.
    if (!resuming) reloadEverything().catch(showError);
  };
  stream.onerror = () => {
    if (stream !== state.stream) return;  // an old one, already replaced
    stream.close();
    reconnectLater();
  };
  for (const [type, handle] of Object.entries(handlers)) {
    stream.addEventListener(type, (event) => {
      if (event.lastEventId) state.lastEventId = event.lastEventId;  // typing has no id
      Promise.resolve(handle(JSON.parse(event.data))).catch(showError);
    });
  }
}

function reconnectLater() {
  $("#connection").textContent = "reconnecting…";
  reconnectTimer = setTimeout(connect, state.retryDelay);
  state.retryDelay = Math.min(state.retryDelay * 2, 30000);
}

// One function per event type; `data` is the event's JSON (README, "Live events").
const handlers = {
  "message.created"(message) {
    const conversation = state.conversations.get(message.conversation_id);
    if (!conversation) return reloadEverything();  // one we have not loaded
    // Had it already: the answer to my send, or the REST load of a new stream.
    if (conversation.last_message?.id === message.id) return;
    const fromOthers = message.sender.id !== state.me.id;
    if (fromOthers) conversation.unread_count += 1;
    messageArrived(message);
    const seen = message.conversation_id === state.openId && document.visibilityState === "visible";
    if (fromOthers && seen) return markRead(message);
  },

  "message.updated"(message) {
    const conversation = state.conversations.get(message.conversation_id);
    if (conversation?.last_message?.id === message.id) conversation.last_message = message;
    if (state.messageItems.has(message.id)) showMessage(message);
  },

  "message.deleted"({ id, conversation_id }) {  // a tombstone: the id, no text
    state.messageItems.get(id)?.remove();
    state.messageItems.delete(id);
    // Its last message (and maybe the unread count) is another one now.
    if (state.conversations.has(conversation_id)) return reloadConversation(conversation_id);
  },

  "conversation.created"(conversation) {  // I started one, or was added: nothing unread yet
    state.conversations.set(conversation.id, { ...conversation, unread_count: 0 });
    renderConversations();
  },

  "conversation.updated"(conversation) {  // title, members, owner; unread_count is mine
    const unread = state.conversations.get(conversation.id)?.unread_count ?? 0;
    state.conversations.set(conversation.id, { ...conversation, unread_count: unread });
    if (conversation.id === state.openId) $("#title").textContent = conversationName(conversation);
    renderConversations();
  },

  "conversation.removed"({ id }) {  // I left, was removed, or it was deleted
    state.conversations.delete(id);
    if (id === state.openId) closeConversation();
    renderConversations();
  },

  "conversation.read"({ conversation_id, user_id }) {
    // Another member's read receipt is not shown here. Mine, from another device,
    // changes my unread count.
    const conversation = state.conversations.get(conversation_id);
    if (user_id === state.me.id && conversation?.unread_count > 0) {
      return reloadConversation(conversation_id);
    }
  },

  typing({ conversation_id, user }) {
    if (conversation_id === state.openId) showTyping(user.username);
  },

  resync() {  // we were away too long for the server to replay what we missed
    return reloadEverything();
  },

  async auth() {  // my access token expired or was revoked: new tokens, then resume
    state.stream.close();
    await refreshTokens();
    connect();
  },

  replaced() {  // I have too many tabs open: this one pauses until I look at it again
    state.stream.close();
    state.paused = true;
    $("#connection").textContent = "paused (too many tabs)";
  },
};

// Had it reconnected at once, a paused tab would replace another tab's stream, which
// would do the same: the tab I look at goes live, the one I left longest pauses.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && state.paused) {
    state.paused = false;
    connect();
  }
});

// ---- 5. Typing notices ----------------------------------------------------------------

// While I type, the other members hear of it: one notice every 3 s at most.
let lastTypingNotice = 0;
$("#send-form").elements.content.addEventListener("input", () => {
  if (Date.now() - lastTypingNotice < 3000) return;
  lastTypingNotice = Date.now();
  api("POST", `/conversations/${state.openId}/typing/`).catch(() => {});  // lost: no matter
});

// Someone else's notice shows for 5 s, or until their message comes.
function showTyping(username) {
  clearTimeout(state.typists.get(username));
  state.typists.set(username, setTimeout(() => stopTyping(username), 5000));
  renderTyping();
}

function stopTyping(username) {
  clearTimeout(state.typists.get(username));
  state.typists.delete(username);
  renderTyping();
}

function renderTyping() {
  const names = [...state.typists.keys()];
  const verb = names.length === 1 ? "is" : "are";
  $("#typing").textContent = names.length ? `${names.join(" and ")} ${verb} typing…` : "";
}
