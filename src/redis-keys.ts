/**
 * How the service's Redis keys are named so that they work on a Redis Cluster as on one server.
 * A cluster keeps each key in one of 16,384 slots, and a script or transaction may only touch
 * keys of one slot. The part of a key between `{` and `}` (its hash tag) alone decides its slot,
 * so keys that one script touches together share a tag:
 *
 * - each BullMQ queue has its own tag, its name (`wa:{message.send}:message.send:wait`): all of
 *   one queue's keys sit in one slot, and the seven queues spread over the cluster's nodes;
 * - the senders' pacing and pause state (src/sender-pace.ts, src/sender-pause.ts) share the tag
 *   `{senders}`, since their scripts read a connection's state and the set of connections at once.
 *
 * Every key still starts with `QUEUE_PREFIX:`, the namespace of one deployment (or test). Keys
 * one command touches alone (customer pacing, the login brake, the retention lock) need no tag.
 */

/** BullMQ's `prefix` for one queue (BullMQ adds `:<queue>:<kind>`). */
export function queuePrefix(prefix: string, queue: string): string {
  return `${prefix}:{${queue}}`;
}

/** The start of every sender pacing and pause key. */
export function sendersKeyPrefix(prefix: string): string {
  return `${prefix}:{senders}`;
}
