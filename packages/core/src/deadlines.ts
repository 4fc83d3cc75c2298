/**
 * Operation deadlines without a timer per operation.
 *
 * Every storage call has a timeout (30 s by default). Arming and clearing a `setTimeout`
 * per call costs more than a whole in-memory `get`, so calls with the same timeout share
 * a queue: deadlines of equal length are added in time order, so the queue is a FIFO and
 * one timer, armed for its head, serves all of them. Finishing a call only marks its
 * entry done; done entries are dropped from the head as they reach it.
 *
 * The shared timer is `unref`'d: a pending deadline does not keep the process alive (the
 * operation's own I/O does).
 */

/** A registered deadline; pass it to {@link cancelDeadline} when the call finishes. */
export interface Deadline {
  readonly at: number;
  readonly fire: () => void;
  done: boolean;
  readonly queue: DeadlineQueue | undefined;
  readonly timer: NodeJS.Timeout | undefined;
}

class DeadlineQueue {
  private items: Deadline[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ms: number) {}

  add(fire: () => void): Deadline {
    const d: Deadline = { at: performance.now() + this.ms, fire, done: false, queue: this, timer: undefined };
    this.items.push(d);
    if (!this.timer) this.arm(this.ms);
    return d;
  }

  /** Drops finished entries from the head so the queue stays as long as the calls in flight. */
  compact(): void {
    const items = this.items;
    while (this.head < items.length && items[this.head]!.done) this.head++;
    if (this.head === items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > items.length) {
      this.items = items.slice(this.head);
      this.head = 0;
    }
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.expire(), Math.max(1, Math.ceil(ms)));
    this.timer.unref();
  }

  private expire(): void {
    this.timer = undefined;
    const now = performance.now();
    while (this.head < this.items.length) {
      const d = this.items[this.head]!;
      if (!d.done && d.at > now + 0.5) break;
      this.head++;
      if (!d.done) {
        d.done = true;
        d.fire();
      }
    }
    this.compact();
    const next = this.items[this.head];
    if (next) this.arm(next.at - now);
  }
}

const queues = new Map<number, DeadlineQueue>();
/** Distinct timeout lengths that get a shared queue; others get a timer of their own. */
const MAX_QUEUES = 32;

/** Calls `fire` after `ms` milliseconds unless cancelled first. */
export function addDeadline(ms: number, fire: () => void): Deadline {
  let queue = queues.get(ms);
  if (!queue && queues.size < MAX_QUEUES) {
    queue = new DeadlineQueue(ms);
    queues.set(ms, queue);
  }
  if (queue) return queue.add(fire);
  const d: { at: number; fire: () => void; done: boolean; queue: undefined; timer: NodeJS.Timeout | undefined } = {
    at: performance.now() + ms,
    fire,
    done: false,
    queue: undefined,
    timer: undefined,
  };
  d.timer = setTimeout(() => {
    if (d.done) return;
    d.done = true;
    fire();
  }, ms);
  return d;
}

/** Marks a deadline finished; its `fire` will not be called. */
export function cancelDeadline(d: Deadline): void {
  if (d.done) return;
  d.done = true;
  if (d.timer) clearTimeout(d.timer);
  d.queue?.compact();
}
