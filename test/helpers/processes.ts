import type { ChildProcess } from 'node:child_process';

// What the helpers that run servers as child processes (PostgreSQL, Redis, nginx, HAProxy) share:
// whether a child has ended, waiting for it with a bound, and a last-resort kill of whatever is
// still running when the test process exits without stopping it (a crash, a timeout).

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves true once the child has exited, or false when timeoutMs passed first. */
export async function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (hasExited(child)) return true;
  return new Promise<boolean>((resolve) => {
    // Cleared on exit: a pending timer would keep vitest's main process alive after teardown.
    const timer = setTimeout(() => resolve(hasExited(child)), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

const live = new Map<ChildProcess, () => void>();
let exitHookInstalled = false;

/**
 * Kills the child (with `kill`, default SIGKILL to the child alone) if the test process exits
 * while it still runs; forgets it once it exits.
 */
export function killOnExit(child: ChildProcess, kill: () => void = () => child.kill('SIGKILL')): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const killChild of live.values()) killChild();
    });
  }
  live.set(child, kill);
  child.once('exit', () => live.delete(child));
}
