/**
 * When written bytes are forced to disk.
 *
 * - `always`: before a write is acknowledged. Survives power loss; each write waits for the disk.
 * - `interval`: every `fsyncIntervalMs`, in the background. Survives a process crash (the bytes are in
 *   the OS page cache); power loss can take the last interval.
 * - `never`: the OS decides. Survives a process crash, not power loss.
 *
 * A process killed with SIGKILL loses nothing acknowledged under any policy: a write is acknowledged only
 * after the write call returns, and the kernel keeps what it was given.
 */
export type FsyncPolicy = 'always' | 'interval' | 'never';

export interface DurabilityOptions {
  fsync: FsyncPolicy;
  /** How often `interval` syncs. */
  fsyncIntervalMs: number;
}

export const DEFAULT_DURABILITY: DurabilityOptions = { fsync: 'always', fsyncIntervalMs: 1000 };

/** Applies a fsync policy to one file (or group of files) through its `sync` function. */
export class SyncScheduler {
  private dirty = false;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: DurabilityOptions,
    private readonly sync: () => Promise<void>,
    onBackgroundError: (error: unknown) => void,
  ) {
    if (options.fsync === 'interval') {
      this.timer = setInterval(() => {
        this.flush().catch(onBackgroundError);
      }, options.fsyncIntervalMs);
      this.timer.unref();
    }
  }

  /** Call after each write, before acknowledging it. */
  async afterWrite(): Promise<void> {
    if (this.options.fsync === 'always') {
      this.dirty = false;
      await this.sync();
    } else {
      this.dirty = true;
    }
  }

  /** Notes a write whose durability can wait for the next sync (which covers the whole file). */
  markDirty(): void {
    this.dirty = true;
  }

  /** Syncs now if anything was written since the last sync (used on close and on the timer). */
  async flush(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    await this.sync();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
