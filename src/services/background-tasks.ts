// Periodic maintenance that every instance runs (each task is idempotent, so running it on
// several instances at once is harmless): purging abandoned uploads, old audit records. It
// remembers how each task's last run went, which /api/v2.0/health reports as "jobs".

export interface PeriodicTask {
  name: string;
  intervalMs: number;
  run(): Promise<unknown>;
}

interface TaskState {
  timer: NodeJS.Timeout;
  running: Promise<void> | null;
  lastError: { message: string; at: Date } | null;
}

export class BackgroundTasks {
  private readonly tasks = new Map<string, TaskState>();

  constructor(private readonly onError: (task: string, err: unknown) => void) {}

  add(task: PeriodicTask): void {
    const state: TaskState = {
      timer: setInterval(() => this.runOnce(task, state), task.intervalMs),
      running: null,
      lastError: null,
    };
    state.timer.unref();
    this.tasks.set(task.name, state);
  }

  /** Throws when a task's last run failed, naming the task and the error. */
  async check(): Promise<void> {
    const failing = [...this.tasks].filter(([, s]) => s.lastError !== null);
    if (failing.length > 0) {
      throw new Error(
        failing
          .map(([name, s]) => `${name} failed at ${s.lastError?.at.toISOString()}: ${s.lastError?.message}`)
          .join('; '),
      );
    }
  }

  /** Stops the schedule and waits for runs in progress. */
  async stop(): Promise<void> {
    for (const state of this.tasks.values()) clearInterval(state.timer);
    await Promise.all([...this.tasks.values()].map((s) => s.running));
  }

  private runOnce(task: PeriodicTask, state: TaskState): void {
    // A run that outlasts its interval is not started twice.
    if (state.running) return;
    state.running = task
      .run()
      .then(
        () => {
          state.lastError = null;
        },
        (err: unknown) => {
          state.lastError = { message: err instanceof Error ? err.message : String(err), at: new Date() };
          this.onError(task.name, err);
        },
      )
      .finally(() => {
        state.running = null;
      });
  }
}
