// Type declarations for @wsd/client (index.js). See README.md for the semantics.

/** Any JSON value: what publish sends and what messages carry. */
export type JSONValue = null | boolean | number | string | JSONValue[] | { [key: string]: JSONValue };

/** A room's position: the offset of a publication and the epoch of the room's stream. */
export interface Position {
  offset: number;
  epoch: string;
}

/** A connection as presence lists it. */
export interface PresenceClient {
  /** The token's `sub` with authentication on, else the connection's `?user=` ("Anonymous" when none). */
  user: string;
  /** The connection's id. */
  conn: string;
}

/** The acknowledgement of a join: the room's position, and the outcome of a recovery. */
export interface JoinAck {
  room: string;
  /** The room's position when the client joined (after a recovery: the last recovered publication). */
  offset: number;
  epoch: string;
  /** Set when the join asked to recover (a rejoin, or join with `since`). */
  recovered?: boolean;
  /** How many publications were replayed (recovered: true). */
  missed?: number;
  /** Why nothing was replayed (recovered: false). */
  reason?: RecoveryFailureReason;
}

/** The acknowledgement of a publish. */
export interface PublishAck {
  room: string;
  /** The publication's position. */
  offset: number;
  epoch: string;
  /** How many connections of the server's node it was queued for. */
  delivered: number;
}

/** What a recovery failed for (docs/protocol.md); "unknown" when the server gave no reason. */
export type RecoveryFailureReason = 'epoch' | 'expired' | 'ahead' | 'failed' | 'unknown' | (string & {});

/** Why a join recovered (or tried to): the reconnect's rejoin, a gap in the offsets, or join({since}). */
export type RecoveryCause = 'reconnect' | 'gap' | 'join';

/** A publication delivered to the client. */
export interface Message<T = JSONValue> {
  room: string;
  offset: number;
  /** The epoch of the room's stream the offset belongs to. */
  epoch: string;
  /** The published JSON value (absent for a binary payload). */
  data: T;
  /** A binary payload (published over another route or the HTTP API), decoded from base64. */
  binary?: Uint8Array;
}

/** A presence event (wsd's pubsub.presence_events): a connection joined or left a room. */
export interface PresenceEvent {
  room: string;
  event: 'join' | 'leave';
  client: PresenceClient;
}

/** Handler of a room's messages: data is the published value (or the binary payload). */
export type MessageHandler<T = JSONValue> = (data: T, message: Message<T>) => void;

export interface JoinOptions<T = JSONValue> {
  onMessage?: MessageHandler<T>;
  onPresence?: (event: PresenceEvent) => void;
  /**
   * Recover from this position on the first join (e.g. one saved before a page reload): the
   * publications after it are delivered before the join resolves, and recovered or recoveryFailed is
   * emitted. Ignored when the client is already in the room.
   */
  since?: Position;
}

export interface ClientOptions {
  /**
   * The JWT, sent as ?token= (browsers cannot set headers on a WebSocket). A function is called
   * before every connection attempt (a fresh token on each reconnect); it may return a promise.
   */
  token?: string | (() => string | undefined | Promise<string | undefined>);
  /** Sent as ?user=: the name presence shows when wsd's authentication is off. */
  user?: string;
  /** More query parameters for the URL. */
  params?: Record<string, string | number | boolean>;
  /**
   * The WebSocket constructor (anything shaped like the browser's). Default: globalThis.WebSocket
   * (browsers, Node >= 22; Node 20/21 need --experimental-websocket).
   */
  WebSocket?: WebSocketConstructor;
  /**
   * Reconnect delays, in ms: attempt n waits a random time in [c/2, c] with c = min(max, min * 2^n).
   * Default {min: 500, max: 10000}. The backoff restarts from min once a connection stayed open 5 s.
   */
  backoff?: { min?: number; max?: number };
  /**
   * How long an acknowledgement (and a connection attempt) may take, in ms; 0 waits forever. A
   * publish, presence or leave not answered in time rejects (code "timeout"); an unanswered join, or a
   * connection attempt that does not open, drops the connection and reconnects. Default 10000.
   */
  timeout?: number;
  /**
   * Paces what the client sends to stay under the server's rate limit (wsd's default: 100 messages/s,
   * burst 200): requests over it wait in the queue instead of being dropped by the server. Default:
   * no pacing.
   */
  rateLimit?: { messages: number; burst?: number };
}

/** The part of the WebSocket API the client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: any) => any) | null;
  onmessage: ((ev: { data: any }) => any) | null;
  onclose: ((ev: { code: number; reason: string; wasClean: boolean }) => any) | null;
  onerror: ((ev: any) => any) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** The events of a Client and what their listeners receive. */
export interface ClientEvents {
  /** A connection opened (the rooms' rejoins are sent first). */
  connected: { reconnect: boolean };
  /** An open connection closed (not emitted for attempts that never opened). */
  disconnected: { code: number; reason: string; wasClean: boolean };
  /** A connection attempt is scheduled: attempt counts from 1 since the last stable connection. */
  reconnecting: { attempt: number; delay: number };
  /** Every message delivered, in every room (after the room's own handlers). */
  message: Message;
  /** A presence event of a room the client is in. */
  presence: PresenceEvent;
  /** A join that asked to recover got every publication it missed (delivered before this event). */
  recovered: { room: string; missed: number; cause: RecoveryCause; position: Position };
  /**
   * A join that asked to recover could not: nothing was replayed, the client continues from
   * `position` and the application should reload the room's state from its source of truth.
   */
  recoveryFailed: { room: string; reason: RecoveryFailureReason; cause: RecoveryCause; since: Position; position: Position };
  /**
   * An error not tied to a request: a server error without id (code "server"; "rate_limited" for
   * wsd's rate limit, whose dropped request then times out), a refused rejoin (code "rejoin": the
   * room is dropped), a URL or token function that failed (code "connect"), a message that is not
   * JSON (code "protocol").
   */
  error: WsdError;
}

export type ClientState = 'connecting' | 'open' | 'disconnected' | 'closed';

export declare class Client {
  constructor(url: string | (() => string | Promise<string>), options?: ClientOptions);
  /** "connecting", "open", "disconnected" (waiting to reconnect) or "closed". */
  readonly state: ClientState;
  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof ClientEvents>(type: K, listener: (event: ClientEvents[K]) => void): () => void;
  off<K extends keyof ClientEvents>(type: K, listener: (event: ClientEvents[K]) => void): void;
  /** Resolves with the next event of a type. */
  once<K extends keyof ClientEvents>(type: K): Promise<ClientEvents[K]>;
  /**
   * Joins a room (or adds handlers to one the client is in); resolves with the join's
   * acknowledgement, once the server has answered (on a later connection if the client is offline).
   * Rejects with the server's error (code "server"), or code "left" / "closed".
   */
  join<T = JSONValue>(room: string, handler?: MessageHandler<T> | JoinOptions<T>): Promise<JoinAck>;
  /** Leaves a room: its messages stop at once. Resolves when the server acknowledged (or at once offline). */
  leave(room: string): Promise<{ room: string }>;
  /**
   * Publishes a JSON value (undefined is sent as null) to a room the client is in. Queued while
   * offline. Rejects with the server's error (code "server"), code "disconnected" when the connection
   * was lost after it was sent (it may or may not have been published), "timeout" or "closed".
   */
  publish(room: string, data: unknown): Promise<PublishAck>;
  /** Who is in a room the client is in. Asked again on the next connection if the connection drops. */
  presence(room: string): Promise<PresenceClient[]>;
  /** The position of the last message delivered in a room (or of its join); undefined before the first join ack. */
  position(room: string): Position | undefined;
  /** The rooms the client is in or joining, in join order. */
  rooms(): string[];
  /** Closes the connection for good: pending requests reject with code "closed". Resolves once the socket closed. */
  close(code?: number, reason?: string): Promise<void>;
}

/** The client's errors. */
export declare class WsdError extends Error {
  name: 'WsdError';
  /** "server", "disconnected", "timeout", "closed", "left", "rate_limited", "rejoin", "connect" or "protocol". */
  code: 'server' | 'disconnected' | 'timeout' | 'closed' | 'left' | 'rate_limited' | 'rejoin' | 'connect' | 'protocol';
  /** The room of the request, when it had one. */
  room?: string;
}

/** Creates a client and starts connecting; url is a ws(s):// or http(s):// URL (a path in a browser) or a function returning one. */
export declare function connect(url: string | (() => string | Promise<string>), options?: ClientOptions): Client;
